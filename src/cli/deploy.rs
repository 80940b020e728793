//! `deploy switch` and `deploy rollback`: the API records the previous upstream in etcd
//! (`<prefix>/vane/deploys/<host>/<location>`), so a rollback works from any machine.

use serde_json::json;

use super::args::DeployCmd;
use super::client::encode;
use super::routes::write;
use super::{CliError, Ctx};

pub(super) fn deploy(ctx: &mut Ctx, c: DeployCmd) -> Result<(), CliError> {
    match c {
        DeployCmd::Switch { host, location, to } => {
            let url = format!("{}/deploy", location_url(&host, &location));
            let what = format!(
                "{host}/{location} now routes to {to}; undo with: vanectl deploy rollback \
                 --host {host} --location {location}"
            );
            write(ctx, "POST", &url, Some(&json!({ "upstream": to })), &what)
        }
        DeployCmd::Rollback { host, location } => {
            let url = format!("{}/rollback", location_url(&host, &location));
            let what = format!("{host}/{location} rolled back to its previous upstream");
            write(ctx, "POST", &url, None, &what)
        }
    }
}

fn location_url(host: &str, location: &str) -> String {
    format!("/v1/hosts/{}/locations/{}", encode(host), encode(location))
}

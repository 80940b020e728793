//! The upstream half of a snapshot: one `Arc<UpstreamRoute>` per index, indices stable for as
//! long as the `Compiler` numbers them (see the rule in `mod.rs`).
//!
//! Every upstream name the model defines *or a location names* has an index. An entry whose
//! upstream is not in the model (not defined yet, or deleted) has `defined: false` and no
//! endpoints, so its locations answer 503; when the upstream appears it takes that same index,
//! and the locations naming it need no recompile.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{EndpointRoute, UpstreamIdx, UpstreamRoute};
use crate::model::{Endpoint, Options, Upstream};

#[derive(Default)]
pub(crate) struct UpstreamTable {
    index: FxHashMap<Box<str>, UpstreamIdx>,
    routes: Vec<Arc<UpstreamRoute>>,
    /// By index: how many live locations name it. An undefined entry nobody names is garbage,
    /// counted towards renumbering.
    refs: Vec<u32>,
    defined: usize,
    default_options: Arc<Options>,
}

impl UpstreamTable {
    /// The index of `name`, adding an undefined entry if the name is new.
    pub fn index_of(&mut self, name: &str) -> UpstreamIdx {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.routes.len() as UpstreamIdx;
        self.index.insert(name.into(), i);
        self.routes.push(Arc::new(self.undefined(name)));
        self.refs.push(0);
        i
    }

    /// Brings `name`'s entry in line with the model's `upstream` (`None`: not in the model).
    /// An unchanged entry keeps its `Arc`, so workers can skip it with `Arc::ptr_eq`.
    pub fn set(&mut self, name: &str, upstream: Option<&Upstream>) {
        let i = match (self.index.get(name), upstream) {
            (Some(&i), _) => i as usize,
            (None, Some(_)) => self.index_of(name) as usize,
            (None, None) => return,
        };
        let old = &self.routes[i];
        let new = match upstream {
            Some(u) if old.defined && same(old, u) => return,
            Some(u) => self.defined_route(name, u),
            None if !old.defined => return,
            None => self.undefined(name),
        };
        match (old.defined, new.defined) {
            (false, true) => self.defined += 1,
            (true, false) => self.defined -= 1,
            _ => {}
        }
        self.routes[i] = Arc::new(new);
    }

    /// For a full compile: every model upstream defined, every other entry undefined.
    pub fn set_all<'m>(&mut self, model: impl Iterator<Item = (&'m String, &'m Upstream)>) {
        let mut in_model = vec![false; self.routes.len()];
        for (name, u) in model {
            self.set(name, Some(u));
            let i = self.index[name.as_str()] as usize;
            in_model.resize(self.routes.len(), false);
            in_model[i] = true;
        }
        let stale: Vec<Box<str>> = (self.routes.iter().zip(&in_model))
            .filter(|(r, &m)| r.defined && !m)
            .map(|(r, _)| r.name.clone())
            .collect();
        for name in stale {
            self.set(&name, None);
        }
    }

    pub fn add_ref(&mut self, i: UpstreamIdx) {
        self.refs[i as usize] += 1;
    }

    pub fn remove_ref(&mut self, i: UpstreamIdx) {
        self.refs[i as usize] -= 1;
    }

    pub fn clear_refs(&mut self) {
        self.refs.iter_mut().for_each(|r| *r = 0);
    }

    /// Whether the undefined entries that no location names (slots a renumbering would
    /// reclaim) outnumber both the defined entries and `min`.
    pub fn mostly_garbage(&self, min: usize) -> bool {
        let bound = self.defined.max(min);
        if self.routes.len() - self.defined <= bound {
            return false; // too few undefined entries to matter: skip the scan
        }
        let unused = |(r, &n): (&Arc<UpstreamRoute>, &u32)| !r.defined && n == 0;
        let garbage = self.routes.iter().zip(&self.refs).filter(|e| unused(*e));
        garbage.count() > bound
    }

    #[cfg(test)]
    pub fn defined(&self) -> usize {
        self.defined
    }

    /// The snapshot's copy: one reference count per entry.
    pub fn routes(&self) -> Vec<Arc<UpstreamRoute>> {
        self.routes.clone()
    }

    fn undefined(&self, name: &str) -> UpstreamRoute {
        UpstreamRoute {
            name: name.into(),
            endpoints: Vec::new(),
            options: self.default_options.clone(),
            defined: false,
        }
    }

    /// Endpoints sorted by id (the model's map is ordered); default options share one `Arc`.
    fn defined_route(&self, name: &str, u: &Upstream) -> UpstreamRoute {
        let endpoint = |(id, e): (&String, &Endpoint)| EndpointRoute {
            id: id.as_str().into(),
            addr: e.addr,
            weight: e.weight,
        };
        let options = match u.options == *self.default_options {
            true => self.default_options.clone(),
            false => Arc::new(u.options.clone()),
        };
        UpstreamRoute {
            name: name.into(),
            endpoints: u.endpoints.iter().map(endpoint).collect(),
            options,
            defined: true,
        }
    }
}

fn same(route: &UpstreamRoute, u: &Upstream) -> bool {
    let endpoint = |(r, (id, e)): (&EndpointRoute, (&String, &Endpoint))| {
        *r.id == **id && r.addr == e.addr && r.weight == e.weight
    };
    *route.options == u.options
        && route.endpoints.len() == u.endpoints.len()
        && route.endpoints.iter().zip(&u.endpoints).all(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(port: u16) -> Upstream {
        let ep = Endpoint {
            addr: ([127, 0, 0, 1], port).into(),
            weight: 1,
        };
        Upstream {
            endpoints: [("1".to_string(), ep)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn indices_are_stable_and_unchanged_entries_keep_their_arc() {
        let mut t = UpstreamTable::default();
        let missing = t.index_of("b");
        assert!(!t.routes[missing as usize].defined);
        t.set("a", Some(&upstream(1)));
        t.set("b", Some(&upstream(2)));
        assert_eq!((t.index_of("b"), t.index_of("a")), (0, 1));
        let before = t.routes();
        t.set("a", Some(&upstream(1)));
        assert!(Arc::ptr_eq(&before[1], &t.routes[1]), "unchanged");
        t.set("a", None);
        assert!(!t.routes[1].defined && t.routes[1].endpoints.is_empty());
        assert_eq!(t.defined(), 1);
        t.set("a", Some(&upstream(3)));
        assert_eq!(t.index_of("a"), 1, "a deleted name comes back at its index");
        t.set("gone", None);
        assert_eq!(t.routes.len(), 2, "deleting an unknown name adds nothing");
    }

    #[test]
    fn garbage_counts_only_unnamed_undefined_entries() {
        let mut t = UpstreamTable::default();
        let a = t.index_of("a");
        t.add_ref(a);
        t.index_of("b");
        t.index_of("c");
        assert!(t.mostly_garbage(1), "b and c");
        assert!(!t.mostly_garbage(2));
        t.set("b", Some(&upstream(1)));
        assert!(!t.mostly_garbage(0), "1 garbage (c), 1 defined (b)");
        t.remove_ref(a);
        assert!(t.mostly_garbage(0), "a and c");
    }
}

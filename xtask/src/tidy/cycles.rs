//! Cycles in a directed graph of module names, reported so that a reader can
//! follow them: for every strongly connected component (Tarjan) of two or
//! more modules, the longest simple cycle through its first module, then
//! more cycles until each module of the component is on one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Edges by module name.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// Most DFS steps spent looking for a long cycle in one component before
/// settling for a shortest one.
const SEARCH_BUDGET: usize = 200_000;

/// The strongly connected components of `graph` with two or more nodes,
/// each sorted, in order of their first node.
pub fn components(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, node: &'g str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.to_string());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    let nodes: BTreeSet<&str> = graph
        .iter()
        .flat_map(|(from, to)| std::iter::once(from).chain(to))
        .map(String::as_str)
        .collect();
    for node in nodes {
        if !tarjan.index.contains_key(node) {
            tarjan.visit(node);
        }
    }
    tarjan.found.sort();
    tarjan.found
}

/// The cycles to report (see the module doc); each starts and ends with the
/// same module.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for component in components(graph) {
        let members: BTreeSet<&str> = component.iter().map(String::as_str).collect();
        let mut uncovered = members.clone();
        while let Some(&start) = uncovered.iter().next() {
            let cycle = longest_cycle(graph, &members, start)
                .or_else(|| shortest_cycle(graph, &members, start))
                .unwrap_or_else(|| vec![start.to_string(), start.to_string()]);
            for node in &cycle {
                uncovered.remove(node.as_str());
            }
            out.push(cycle);
        }
    }
    out
}

/// `a -> b -> a`.
pub fn render(cycle: &[String]) -> String {
    cycle.join(" -> ")
}

/// The longest simple cycle through `start` within `members` (depth-first,
/// neighbours in order, within [`SEARCH_BUDGET`] steps).
fn longest_cycle(graph: &Graph, members: &BTreeSet<&str>, start: &str) -> Option<Vec<String>> {
    let successors = |node: &str| -> Vec<String> {
        graph
            .get(node)
            .into_iter()
            .flatten()
            .filter(|n| members.contains(n.as_str()))
            .cloned()
            .collect()
    };
    let mut best: Option<Vec<String>> = None;
    let mut path = vec![start.to_string()];
    // For each node on the path, the successors still to try.
    let mut pending = vec![successors(start)];
    let mut steps = 0;
    while let Some(options) = pending.last_mut() {
        steps += 1;
        if steps > SEARCH_BUDGET || best.as_ref().is_some_and(|b| b.len() > members.len()) {
            break;
        }
        let Some(next) = (!options.is_empty()).then(|| options.remove(0)) else {
            pending.pop();
            path.pop();
            continue;
        };
        if next == start {
            if best.as_ref().is_none_or(|b| b.len() < path.len() + 1) {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                best = Some(cycle);
            }
        } else if !path.contains(&next) {
            pending.push(successors(&next));
            path.push(next);
        }
    }
    best
}

/// A shortest cycle through `start` within `members` (breadth-first).
fn shortest_cycle(graph: &Graph, members: &BTreeSet<&str>, start: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !members.contains(next) {
                continue;
            }
            if next == start {
                let mut cycle = vec![start.to_string()];
                let mut at = node;
                while at != start {
                    cycle.push(at.to_string());
                    at = came_from[at];
                }
                cycle.push(start.to_string());
                cycle.reverse();
                return Some(cycle);
            }
            if next != start && !came_from.contains_key(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::new();
        for (from, to) in edges {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
        g
    }

    fn rendered(g: &Graph) -> Vec<String> {
        cycles(g).iter().map(|c| render(c)).collect()
    }

    #[test]
    fn the_runtime_cycle_is_reported_once_through_all_its_modules() {
        // The shape of crates/imapvm's cycle: three cycles share the
        // component; one through all five modules names them all.
        let g = graph(&[
            ("ops", "outbox"),
            ("ops", "store"),
            ("ops", "session"),
            ("outbox", "outbox/spool"),
            ("outbox", "store"),
            ("outbox/spool", "store"),
            ("store", "watch"),
            ("store", "session"),
            ("watch", "ops"),
            ("watch", "store"),
        ]);
        assert_eq!(
            components(&g),
            [["ops", "outbox", "outbox/spool", "store", "watch"]]
        );
        assert_eq!(
            rendered(&g),
            ["ops -> outbox -> outbox/spool -> store -> watch -> ops"]
        );
    }

    #[test]
    fn separate_components_each_get_their_cycles_and_acyclic_graphs_none() {
        let g = graph(&[
            ("a", "b"),
            ("b", "a"),
            ("c", "d"),
            ("d", "e"),
            ("e", "c"),
            ("e", "f"),
            ("x", "a"),
        ]);
        assert_eq!(rendered(&g), ["a -> b -> a", "c -> d -> e -> c"]);
        let dag = graph(&[("a", "b"), ("b", "c"), ("a", "c")]);
        assert!(cycles(&dag).is_empty());
    }

    #[test]
    fn a_component_no_single_cycle_covers_gets_more_cycles() {
        // Two cycles that only share the hub: no simple cycle has all five.
        let g = graph(&[
            ("hub", "a"),
            ("a", "b"),
            ("b", "hub"),
            ("hub", "x"),
            ("x", "y"),
            ("y", "hub"),
        ]);
        assert_eq!(rendered(&g), ["a -> b -> hub -> a", "x -> y -> hub -> x"]);
    }
}

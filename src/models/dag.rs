//! The models' dependency graph: order, cycles, and selection.

use std::collections::{BTreeSet, HashMap};

use super::Model;
use crate::error::{Error, Result};

/// Models and the edges between them (a model depends on the models whose
/// tables it reads).
#[derive(Debug)]
pub struct Dag {
    models: Vec<Model>,
    by_table: HashMap<String, usize>,
    upstream: Vec<Vec<usize>>,
    downstream: Vec<Vec<usize>>,
}

impl Dag {
    /// Builds the graph. A table read by a model must be another model's, or
    /// exist outside the models (`exists`: the source or the lake).
    pub fn new(models: Vec<Model>, exists: impl Fn(&str) -> bool) -> Result<Self> {
        let by_table: HashMap<String, usize> = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.table.to_string(), i))
            .collect();
        let mut upstream = vec![vec![]; models.len()];
        let mut downstream = vec![vec![]; models.len()];
        for (i, m) in models.iter().enumerate() {
            for read in &m.reads {
                match by_table.get(read) {
                    Some(&j) => {
                        upstream[i].push(j);
                        downstream[j].push(i);
                    }
                    None if exists(read) => {}
                    None => {
                        return Err(Error::Dag(format!(
                            "{}: reads `{read}`, which no model in queries/ produces and \
                             neither the source nor the lake holds",
                            m.path.display()
                        )));
                    }
                }
            }
        }
        let dag = Dag {
            models,
            by_table,
            upstream,
            downstream,
        };
        dag.order()?;
        Ok(dag)
    }

    /// The models, indexed as everywhere in this type.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// Indices of the models `i` reads from.
    pub fn upstream(&self, i: usize) -> &[usize] {
        &self.upstream[i]
    }

    /// Indices of the models that read `i`.
    pub fn downstream(&self, i: usize) -> &[usize] {
        &self.downstream[i]
    }

    /// All models in an order where each comes after what it reads; ties
    /// broken by table name, so the order is stable.
    pub fn order(&self) -> Result<Vec<usize>> {
        let mut pending: Vec<usize> = self.upstream.iter().map(Vec::len).collect();
        let mut ready: BTreeSet<(String, usize)> = (0..self.models.len())
            .filter(|&i| pending[i] == 0)
            .map(|i| (self.models[i].table.to_string(), i))
            .collect();
        let mut order = Vec::with_capacity(self.models.len());
        while let Some(first) = ready.pop_first() {
            let i = first.1;
            order.push(i);
            for &d in &self.downstream[i] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    ready.insert((self.models[d].table.to_string(), d));
                }
            }
        }
        if order.len() < self.models.len() {
            return Err(Error::Dag(self.describe_cycle(&pending)));
        }
        Ok(order)
    }

    fn describe_cycle(&self, pending: &[usize]) -> String {
        // Every model left with pending inputs lies on or behind a cycle;
        // walking upstream through such models must revisit one.
        let start = (0..self.models.len())
            .find(|&i| pending[i] > 0)
            .expect("a cycle leaves models pending");
        let mut path = vec![start];
        let mut at = start;
        loop {
            let next = *self.upstream[at]
                .iter()
                .find(|&&u| pending[u] > 0)
                .expect("a pending model has a pending input");
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut cycle: Vec<usize> = path[pos..].to_vec();
                cycle.reverse();
                cycle.push(cycle[0]);
                let names: Vec<String> = cycle
                    .iter()
                    .map(|&i| self.models[i].table.to_string())
                    .collect();
                let files: Vec<String> = cycle[..cycle.len() - 1]
                    .iter()
                    .map(|&i| self.models[i].path.display().to_string())
                    .collect();
                return format!(
                    "dependency cycle: {} (files: {})",
                    names.join(" -> "),
                    files.join(", ")
                );
            }
            path.push(next);
            at = next;
        }
    }

    /// Resolves selectors (dbt's syntax) to model indices:
    /// `layer.table` the model, `layer.table+` with everything downstream,
    /// `+layer.table` with everything upstream, `layer` or `layer.*` a layer.
    /// No selector selects every model.
    pub fn select(&self, selectors: &[String]) -> Result<BTreeSet<usize>> {
        if selectors.is_empty() {
            return Ok((0..self.models.len()).collect());
        }
        let mut out = BTreeSet::new();
        for raw in selectors {
            for s in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (up, rest) = match s.strip_prefix('+') {
                    Some(r) => (true, r),
                    None => (false, s),
                };
                let (down, name) = match rest.strip_suffix('+') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                let roots: Vec<usize> = if let Some(&i) = self.by_table.get(name) {
                    vec![i]
                } else {
                    let layer = name.strip_suffix(".*").unwrap_or(name);
                    let in_layer: Vec<usize> = (0..self.models.len())
                        .filter(|&i| self.models[i].table.layer.as_str() == layer)
                        .collect();
                    if in_layer.is_empty() {
                        let mut known: Vec<&String> = self.by_table.keys().collect();
                        known.sort();
                        let near = known
                            .iter()
                            .min_by_key(|k| strsim::levenshtein(k, name))
                            .filter(|k| strsim::levenshtein(k, name) <= 3)
                            .map(|k| format!("did you mean {k}? "))
                            .unwrap_or_default();
                        // Asked for something that is not there: the
                        // command line's mistake, as a mistyped flag is.
                        return Err(Error::Config(format!(
                            "--select {s}: no model or layer `{name}` ({near}models: {})",
                            known.into_iter().cloned().collect::<Vec<_>>().join(", ")
                        )));
                    }
                    in_layer
                };
                for root in roots {
                    out.insert(root);
                    if down {
                        self.walk(root, &self.downstream, &mut out);
                    }
                    if up {
                        self.walk(root, &self.upstream, &mut out);
                    }
                }
            }
        }
        Ok(out)
    }

    fn walk(&self, from: usize, edges: &[Vec<usize>], out: &mut BTreeSet<usize>) {
        let mut stack = vec![from];
        while let Some(i) = stack.pop() {
            for &n in &edges[i] {
                if out.insert(n) {
                    stack.push(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::writer::WriteSpec;
    use crate::lake::{Layer, TableId};
    use std::path::PathBuf;

    fn model(table: &str, reads: &[&str]) -> Model {
        let (layer, name) = table.split_once('.').unwrap();
        Model {
            table: TableId::new(Layer::new(layer).unwrap(), name).unwrap(),
            path: PathBuf::from(format!("queries/{layer}/{name}.sql")),
            sql: String::new(),
            write: WriteSpec::default(),
            reads: reads.iter().map(|s| s.to_string()).collect(),
            incremental: None,
        }
    }

    fn pipeline() -> Dag {
        Dag::new(
            vec![
                model("gold.fact", &["silver.sales"]),
                model("silver.sales", &["bronze.sales"]),
                model("bronze.sales", &["raw.sales"]),
                model("raw.sales", &["legacy.sales"]),
                model("gold.daily", &["gold.fact"]),
                model("gold.dim", &["silver.sales"]),
            ],
            |t| t == "legacy.sales",
        )
        .unwrap()
    }

    fn names(dag: &Dag, idx: impl IntoIterator<Item = usize>) -> Vec<String> {
        idx.into_iter()
            .map(|i| dag.models()[i].table.to_string())
            .collect()
    }

    #[test]
    fn order_puts_inputs_first_and_is_stable() {
        let dag = pipeline();
        assert_eq!(
            names(&dag, dag.order().unwrap()),
            [
                "raw.sales",
                "bronze.sales",
                "silver.sales",
                "gold.dim",
                "gold.fact",
                "gold.daily"
            ]
        );
    }

    #[test]
    fn a_cycle_is_named_with_its_files() {
        let err = Dag::new(
            vec![
                model("gold.a", &["gold.b"]),
                model("gold.b", &["gold.c"]),
                model("gold.c", &["gold.a"]),
                model("gold.d", &["gold.a"]),
            ],
            |_| false,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("dependency cycle: "), "{err}");
        for t in ["gold.a", "gold.b", "gold.c", "queries/gold/a.sql"] {
            assert!(err.contains(t), "{err}");
        }
        assert!(!err.contains("gold.d"), "{err}");
    }

    #[test]
    fn an_unknown_input_names_the_model_file() {
        let err = Dag::new(vec![model("gold.a", &["silver.nope"])], |_| false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("queries/gold/a.sql"), "{err}");
        assert!(err.contains("silver.nope"), "{err}");
    }

    #[test]
    fn selection_follows_edges() {
        let dag = pipeline();
        let sel = |s: &[&str]| {
            let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            let mut n = names(&dag, dag.select(&s).unwrap());
            n.sort();
            n
        };
        assert_eq!(
            sel(&["silver.sales+"]),
            ["gold.daily", "gold.dim", "gold.fact", "silver.sales"]
        );
        assert_eq!(
            sel(&["+gold.fact"]),
            ["bronze.sales", "gold.fact", "raw.sales", "silver.sales"]
        );
        assert_eq!(sel(&["gold"]), ["gold.daily", "gold.dim", "gold.fact"]);
        assert_eq!(sel(&["raw.sales,gold.dim"]), ["gold.dim", "raw.sales"]);
        assert_eq!(sel(&[]).len(), 6);
        assert!(dag.select(&["gold.nope".into()]).is_err());
    }
}

//! The state of a run in one checkpoint file: any number of named modules (parameters and
//! buffers), named optimizers, named extra tensors of any dtype (EMAs, power-iteration vectors,
//! partial sums) and counters (epoch, step, RNG stream positions), plus string metadata.
//!
//! Entries are `module.<name>.<state name>`, `optim.<name>.<state name>`, `tensor.<name>` and
//! `counter.<name>` (a u64 scalar); every tensor keeps its dtype. [`StateWriter::save`] reads
//! everything back in one submit and writes atomically. [`StateReader`] checks each entry against
//! the run loading it: a missing or mistyped one, or (at [`StateReader::finish`]) one nothing
//! took, is [`Error::Checkpoint`] naming the entry.

use crate::nn::{self, Stateful};
use crate::optim::Optimizer;
use crate::report::checkpoint::Entry;
use crate::report::Checkpoint;
use crate::{DType, Device, EntryProblem, Error, Result, Tensor};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Collects a run's state, then saves it in one go.
#[derive(Default)]
pub struct StateWriter {
    tensors: Vec<(String, Tensor)>,
    counters: Vec<(String, u64)>,
    meta: BTreeMap<String, String>,
}

impl StateWriter {
    pub fn new() -> StateWriter {
        StateWriter::default()
    }

    /// Every state tensor of `m` (parameters and buffers) under `module.<name>.`.
    pub fn module(&mut self, name: &str, m: &dyn Stateful) -> &mut Self {
        for s in nn::state_of(m) {
            self.tensors
                .push((format!("module.{name}.{}", s.name), s.tensor));
        }
        self
    }

    /// The optimizer's state snapshot under `optim.<name>.`.
    pub fn optimizer(&mut self, name: &str, o: &dyn Optimizer) -> Result<&mut Self> {
        for (n, t) in o.state()? {
            self.tensors.push((format!("optim.{name}.{n}"), t));
        }
        Ok(self)
    }

    /// An extra tensor (any dtype) under `tensor.<name>`.
    pub fn tensor(&mut self, name: &str, t: &Tensor) -> &mut Self {
        self.tensors.push((format!("tensor.{name}"), t.clone()));
        self
    }

    pub fn counter(&mut self, name: &str, value: u64) -> &mut Self {
        self.counters.push((format!("counter.{name}"), value));
        self
    }

    /// A string (the run's config, the device name): informative, not checked on load.
    pub fn meta(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.meta.insert(key.to_string(), value.into());
        self
    }

    /// Reads every tensor back (one submit) and writes `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut ck = Checkpoint::new();
        let named: Vec<(&str, &Tensor)> =
            self.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        ck.insert_tensors(&named)?;
        for (name, v) in &self.counters {
            ck.insert_u64(name.clone(), &[1], vec![*v])?;
        }
        ck.metadata = self.meta.clone();
        ck.save(path)
    }
}

/// A saved run state being restored; see the [module docs](self).
pub struct StateReader {
    ck: Checkpoint,
    path: PathBuf,
    dev: Device,
    taken: RefCell<BTreeSet<String>>,
}

impl StateReader {
    pub fn load(path: &Path) -> Result<StateReader> {
        Ok(StateReader {
            ck: Checkpoint::load(path)?,
            path: path.to_path_buf(),
            dev: Device::get()?,
            taken: RefCell::new(BTreeSet::new()),
        })
    }

    fn fail(&self, entry: &str, problem: EntryProblem) -> Error {
        Error::Checkpoint {
            path: self.path.display().to_string(),
            entry: entry.to_string(),
            problem,
        }
    }

    /// The entry `name` as a GPU tensor, checked against the dtype and shape the run expects.
    fn get(&self, name: &str, dtype: DType, shape: &[usize]) -> Result<Tensor> {
        let entry = self
            .ck
            .tensors
            .get(name)
            .ok_or_else(|| self.fail(name, EntryProblem::Missing))?;
        self.check(name, entry, &format!("{dtype:?} {shape:?}"))?;
        self.taken.borrow_mut().insert(name.to_string());
        self.ck.tensor(&self.dev, name)
    }

    /// Copies `module.<name>.*` into `m`'s tensors in place (optimizers keep their handles).
    pub fn module(&self, name: &str, m: &dyn Stateful) -> Result<()> {
        for s in nn::state_of(m) {
            let entry = format!("module.{name}.{}", s.name);
            let t = self.get(&entry, s.tensor.dtype(), s.tensor.shape())?;
            s.tensor.assign(&t)?;
        }
        Ok(())
    }

    /// Restores `optim.<name>.*` into `o` (an optimizer of the same kind over the same shapes).
    pub fn optimizer(&self, name: &str, o: &mut dyn Optimizer) -> Result<()> {
        let mut state = Vec::new();
        for (n, like) in o.state()? {
            let entry = format!("optim.{name}.{n}");
            state.push((n, self.get(&entry, like.dtype(), like.shape())?));
        }
        o.load_state(&state)
    }

    /// The extra tensor `tensor.<name>`, which must have this dtype and shape.
    pub fn tensor(&self, name: &str, dtype: DType, shape: &[usize]) -> Result<Tensor> {
        self.get(&format!("tensor.{name}"), dtype, shape)
    }

    pub fn counter(&self, name: &str) -> Result<u64> {
        let entry = format!("counter.{name}");
        match self.ck.tensors.get(&entry) {
            Some(e @ Entry::U64 { data, .. }) => {
                self.check(&entry, e, "U64 [1]")?;
                self.taken.borrow_mut().insert(entry);
                Ok(data[0])
            }
            Some(e) => self.check(&entry, e, "U64 [1]").map(|_| 0),
            None => Err(self.fail(&entry, EntryProblem::Missing)),
        }
    }

    /// `Mistyped` unless the entry's dtype and shape read `want` ("F32 [3, 4]").
    fn check(&self, name: &str, entry: &Entry, want: &str) -> Result<()> {
        let got = match entry {
            Entry::F32 { shape, .. } => format!("F32 {shape:?}"),
            Entry::U32 { shape, .. } => format!("U32 {shape:?}"),
            Entry::U64 { shape, .. } => format!("U64 {shape:?}"),
        };
        if got == want {
            return Ok(());
        }
        let want = want.to_string();
        Err(self.fail(name, EntryProblem::Mistyped { want, got }))
    }

    pub fn meta(&self, key: &str) -> Result<&str> {
        self.ck
            .metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.fail(&format!("metadata {key}"), EntryProblem::Missing))
    }

    /// Ends a full restore: an entry nothing took belongs to another run or model.
    pub fn finish(self) -> Result<()> {
        let taken = self.taken.borrow();
        match self.ck.tensors.keys().find(|k| !taken.contains(*k)) {
            Some(extra) => Err(self.fail(extra, EntryProblem::Extra)),
            None => Ok(()),
        }
    }
}

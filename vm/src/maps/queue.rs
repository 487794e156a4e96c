//! `QUEUE` (FIFO) and `STACK` (LIFO): keyless maps of `value_size` values. `push` with
//! `BPF_EXIST` on a full map drops the oldest value to make room; otherwise a full map
//! is `E2BIG`. `pop`/`peek` on an empty map are `ENOENT`.

use std::collections::VecDeque;

use super::{MapError, MapSpec, BPF_EXIST};

pub(crate) struct Queue {
    values: VecDeque<Vec<u8>>,
    value_size: usize,
    max: usize,
    lifo: bool,
}

impl Queue {
    pub fn new(spec: &MapSpec, lifo: bool) -> Result<Queue, MapError> {
        if spec.key_size != 0 || spec.value_size == 0 || spec.max_entries == 0 {
            return Err(MapError::Invalid);
        }
        Ok(Queue {
            values: VecDeque::new(),
            value_size: spec.value_size as usize,
            max: spec.max_entries as usize,
            lifo,
        })
    }

    pub fn push(&mut self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !BPF_EXIST != 0 {
            return Err(MapError::Invalid);
        }
        let value = value.get(..self.value_size).ok_or(MapError::Invalid)?;
        if self.values.len() >= self.max {
            if flags & BPF_EXIST == 0 {
                return Err(MapError::TooBig);
            }
            // The oldest value is the front for both kinds.
            self.values.pop_front();
        }
        self.values.push_back(value.to_vec());
        Ok(())
    }

    pub fn peek(&self) -> Result<Vec<u8>, MapError> {
        let v = if self.lifo {
            self.values.back()
        } else {
            self.values.front()
        };
        v.cloned().ok_or(MapError::NotFound)
    }

    pub fn pop(&mut self) -> Result<Vec<u8>, MapError> {
        let v = if self.lifo {
            self.values.pop_back()
        } else {
            self.values.pop_front()
        };
        v.ok_or(MapError::NotFound)
    }

    /// The values in the order `pop` would return them, with empty keys.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<Vec<u8>> = self.values.iter().cloned().collect();
        if self.lifo {
            v.reverse();
        }
        v.into_iter().map(|v| (Vec::new(), v)).collect()
    }
}

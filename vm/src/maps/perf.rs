//! `PERF_EVENT_ARRAY`: `bpf_perf_event_output` records are captured per CPU index for the
//! host to read (there is no perf buffer to deliver them to). The index comes from the
//! low 32 bits of the flags (`BPF_F_CURRENT_CPU` = the running CPU); an index beyond
//! `max_entries` is `E2BIG`, other flag bits are `EINVAL`.

use super::{MapError, MapSpec};

/// `BPF_F_CURRENT_CPU` / `BPF_F_INDEX_MASK`.
pub const BPF_F_CURRENT_CPU: u64 = 0xffff_ffff;

/// One captured record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerfRecord {
    /// The array index (CPU) it was written to.
    pub index: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

pub(crate) struct PerfArray {
    max: u32,
    records: Vec<PerfRecord>,
}

impl PerfArray {
    pub fn new(spec: &MapSpec) -> Result<PerfArray, MapError> {
        if spec.key_size != 4 || spec.value_size != 4 || spec.max_entries == 0 {
            return Err(MapError::Invalid);
        }
        Ok(PerfArray {
            max: spec.max_entries,
            records: Vec::new(),
        })
    }

    pub fn output(&mut self, flags: u64, data: &[u8], cpu: u32) -> Result<(), MapError> {
        if flags >> 32 != 0 {
            return Err(MapError::Invalid);
        }
        let index = if flags == BPF_F_CURRENT_CPU {
            cpu
        } else {
            flags as u32
        };
        if index >= self.max {
            return Err(MapError::TooBig);
        }
        self.records.push(PerfRecord {
            index,
            data: data.to_vec(),
        });
        Ok(())
    }

    pub fn records(&self) -> &[PerfRecord] {
        &self.records
    }

    pub fn take(&mut self) -> Vec<PerfRecord> {
        std::mem::take(&mut self.records)
    }
}

//! `RINGBUF`: records reserved by the program, then submitted or discarded, read by the
//! host in reservation order.
//!
//! Positions and capacity follow the kernel: each record takes `round_up(len + 8, 8)`
//! bytes (an 8-byte header, then the data); a reservation fails when the producer would
//! get more than `size` bytes ahead of the consumer, and the host consumes records in
//! order, stopping at one still reserved. The kernel maps the data pages twice so a
//! record that wraps is contiguous; here the arena is `2 * size` bytes and a record at
//! ring offset `p` simply occupies `p..p + len` of it, which no other unconsumed record
//! can overlap (a second lap needs the space to have been consumed).

use std::collections::VecDeque;

use super::arena::Arena;
use super::{MapError, MapSpec};

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Reserved,
    Submitted,
    Discarded,
}

struct Record {
    pos: u64,
    len: u32,
    state: State,
}

pub(crate) struct RingBuf {
    arena: Arena,
    size: u64,
    prod: u64,
    cons: u64,
    records: VecDeque<Record>,
}

/// `bpf_ringbuf_query` flags.
const RB_AVAIL_DATA: u64 = 0;
const RB_RING_SIZE: u64 = 1;
const RB_CONS_POS: u64 = 2;
const RB_PROD_POS: u64 = 3;

fn total(len: u32) -> u64 {
    (len as u64 + 8 + 7) & !7
}

impl RingBuf {
    pub fn new(spec: &MapSpec) -> Result<RingBuf, MapError> {
        let size = spec.max_entries as u64;
        // The kernel wants a power-of-two multiple of the page size.
        if spec.key_size != 0 || spec.value_size != 0 || size < 4096 || !size.is_power_of_two() {
            return Err(MapError::Invalid);
        }
        if size > 1 << 30 {
            return Err(MapError::TooBig);
        }
        Ok(RingBuf {
            arena: Arena::new(2 * size as usize).ok_or(MapError::NoMemory)?,
            size,
            prod: 0,
            cons: 0,
            records: VecDeque::new(),
        })
    }

    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// Reserves `len` bytes; the arena offset of the data, or `None` when it does not fit.
    pub fn reserve(&mut self, len: u64, flags: u64) -> Option<usize> {
        let len = u32::try_from(len).ok().filter(|_| flags == 0)?;
        let need = total(len);
        if need > self.size || self.prod - self.cons + need > self.size {
            return None;
        }
        let phys = (self.prod % self.size) as usize;
        // The header: length with the busy bit, as the kernel writes it.
        self.arena.write(phys, &(len | 1 << 31).to_le_bytes());
        self.arena.write(phys + 4, &0u32.to_le_bytes());
        self.records.push_back(Record {
            pos: self.prod,
            len,
            state: State::Reserved,
        });
        self.prod += need;
        Some(phys + 8)
    }

    /// Submits (`discard` false) or discards the record whose data is at `offset`.
    pub fn commit(&mut self, offset: usize, discard: bool) -> Result<(), MapError> {
        let size = self.size;
        let rec = self
            .records
            .iter_mut()
            .find(|r| r.state == State::Reserved && (r.pos % size) as usize + 8 == offset)
            .ok_or(MapError::Invalid)?;
        rec.state = if discard {
            State::Discarded
        } else {
            State::Submitted
        };
        let header = rec.len | if discard { 1 << 30 } else { 0 };
        let phys = (rec.pos % size) as usize;
        self.arena.write(phys, &header.to_le_bytes());
        Ok(())
    }

    /// `bpf_ringbuf_output`: reserve, copy, submit.
    pub fn output(&mut self, data: &[u8], flags: u64) -> Result<(), MapError> {
        // Only the wakeup flags (BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP) are valid.
        if flags & !3 != 0 {
            return Err(MapError::Invalid);
        }
        let at = self.reserve(data.len() as u64, 0).ok_or(MapError::Again)?;
        self.arena.write(at, data);
        self.commit(at, false)
    }

    pub fn query(&self, flags: u64) -> u64 {
        match flags {
            RB_AVAIL_DATA => self.prod - self.cons,
            RB_RING_SIZE => self.size,
            RB_CONS_POS => self.cons,
            RB_PROD_POS => self.prod,
            _ => 0,
        }
    }

    fn data(&self, r: &Record) -> Vec<u8> {
        let at = (r.pos % self.size) as usize + 8;
        self.arena.to_vec(at, r.len as usize).unwrap_or_default()
    }

    /// The submitted records not yet consumed, in order, without consuming them.
    pub fn pending(&self) -> Vec<Vec<u8>> {
        self.records
            .iter()
            .take_while(|r| r.state != State::Reserved)
            .filter(|r| r.state == State::Submitted)
            .map(|r| self.data(r))
            .collect()
    }

    /// Consumes the records up to the first one still reserved; returns the submitted ones.
    pub fn consume(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(r) = self.records.front() {
            if r.state == State::Reserved {
                break;
            }
            if r.state == State::Submitted {
                out.push(self.data(r));
            }
            self.cons = r.pos + total(r.len);
            self.records.pop_front();
        }
        out
    }
}

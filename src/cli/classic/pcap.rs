//! Reading captures for `run --pcap`: pcap and pcapng files (through `pcap-file`), each
//! packet with the context defaults of its link type.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use ebpfvm_classic::PacketMeta;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

use super::Packet;
use crate::cli::CliError;

fn bad(path: &Path, message: impl ToString) -> CliError {
    CliError::Load {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn packet(linktype: u32, data: &[u8], orig_len: u32) -> Packet {
    let mut meta = PacketMeta::for_linktype(linktype, data);
    if orig_len as usize > data.len() {
        meta.wire_len = Some(orig_len);
    }
    Packet {
        bytes: data.to_vec(),
        meta,
    }
}

/// The capture in `path` opened from its start, and whether it is pcapng.
fn open(path: &Path) -> Result<(BufReader<File>, bool), CliError> {
    let io = |source| CliError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(io)?;
    let file = BufReader::new(File::open(path).map_err(io)?);
    Ok((file, magic == [0x0a, 0x0d, 0x0d, 0x0a]))
}

/// Every packet of the capture in `path`, in order.
pub fn read(path: &Path) -> Result<Vec<Packet>, CliError> {
    match open(path)? {
        (file, true) => read_pcapng(path, file),
        (file, false) => read_pcap(path, file),
    }
}

/// The link type of the capture in `path` (of its first interface for pcapng; `None`
/// when it declares none), without reading its packets. Only `--filter` needs it.
#[cfg_attr(not(feature = "pcap-filter"), expect(dead_code))]
pub fn linktype(path: &Path) -> Result<Option<u32>, CliError> {
    let (file, is_ng) = open(path)?;
    if !is_ng {
        let reader = PcapReader::new(file).map_err(|e| bad(path, e))?;
        return Ok(Some(u32::from(reader.header().datalink)));
    }
    let mut reader = PcapNgReader::new(file).map_err(|e| bad(path, e))?;
    while let Some(block) = reader.next_block() {
        if let Block::InterfaceDescription(idb) = block.map_err(|e| bad(path, e))? {
            return Ok(Some(u32::from(idb.linktype)));
        }
    }
    Ok(None)
}

fn read_pcap(path: &Path, file: BufReader<File>) -> Result<Vec<Packet>, CliError> {
    let mut reader = PcapReader::new(file).map_err(|e| bad(path, e))?;
    let linktype = u32::from(reader.header().datalink);
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.map_err(|e| bad(path, format!("packet {}: {e}", out.len())))?;
        out.push(packet(linktype, &p.data, p.orig_len));
    }
    Ok(out)
}

fn read_pcapng(path: &Path, file: BufReader<File>) -> Result<Vec<Packet>, CliError> {
    let mut reader = PcapNgReader::new(file).map_err(|e| bad(path, e))?;
    let mut out = Vec::new();
    // Link types by interface id, as the interface description blocks declare them.
    let mut interfaces: Vec<u32> = Vec::new();
    while let Some(block) = reader.next_block() {
        let block =
            block.map_err(|e| bad(path, format!("block after packet {}: {e}", out.len())))?;
        let linktype = |id: u32| {
            interfaces.get(id as usize).copied().ok_or_else(|| {
                bad(
                    path,
                    format!("packet {}: unknown interface {id}", out.len()),
                )
            })
        };
        let (lt, data, orig_len) = match &block {
            Block::InterfaceDescription(idb) => {
                interfaces.push(u32::from(idb.linktype));
                continue;
            }
            Block::EnhancedPacket(p) => (linktype(p.interface_id)?, &p.data, p.original_len),
            Block::SimplePacket(p) => (linktype(0)?, &p.data, p.original_len),
            Block::Packet(p) => (linktype(p.interface_id as u32)?, &p.data, p.original_len),
            _ => continue,
        };
        out.push(packet(lt, data, orig_len));
    }
    Ok(out)
}

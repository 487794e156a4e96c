//! `--map-update NAME:KEY=VALUE`: entries written into an ELF object's maps before the
//! first run, as a host's `bpf_map_update_elem` (`BPF_ANY`) would write them. Key and
//! value are hex bytes in memory order (`00000000=6400000000000000`: key 0, value 100
//! as a little-endian u64); a socket map's value is a socket cookie.

use ebpfvm::Vm;

use super::CliError;

/// One parsed `--map-update`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapUpdate {
    map: String,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// Parses `NAME:KEY=VALUE`.
pub fn parse(text: &str) -> Result<MapUpdate, String> {
    let usage = || format!("`{text}` is not NAME:KEY=VALUE (hex key and value)");
    let (map, rest) = text.split_once(':').ok_or_else(usage)?;
    let (key, value) = rest.split_once('=').ok_or_else(usage)?;
    let bytes = |hex: &str| -> Result<Vec<u8>, String> {
        if hex.len() % 2 != 0 {
            return Err(format!("`{hex}`: an odd number of hex digits"));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
                    .ok_or_else(|| format!("`{hex}` is not hex"))
            })
            .collect()
    };
    Ok(MapUpdate {
        map: map.to_string(),
        key: bytes(key)?,
        value: bytes(value)?,
    })
}

/// Writes every update into `vm`'s maps, in order.
pub fn apply(vm: &Vm, updates: &[MapUpdate]) -> Result<(), CliError> {
    for u in updates {
        let id = vm.maps().find(&u.map).ok_or_else(|| {
            CliError::Usage(format!("--map-update: the object has no map `{}`", u.map))
        })?;
        vm.maps()
            .update(id, &u.key, &u.value, 0)
            .map_err(|e| CliError::Usage(format!("--map-update {}: {e}", u.map)))?;
    }
    Ok(())
}

//! `ebpfvm run --type lirc_mode2 --sample pulse:9000,space:4500,...`: an infrared
//! decoder run once per raw IR sample (or once over the 4-byte `--ctx`), on the same
//! `Vm` so its maps persist as in the kernel. Each run prints its return value and the
//! `rc_keydown`/`rc_repeat`/`rc_pointer_rel` calls it made (`"rc": [...]` in JSON).
//! The kernel here has no lirc_mode2 (no `CONFIG_RC_CORE`): nothing to compare with.

use std::path::Path;
use std::process::ExitCode;

use ebpfvm::ctx::lirc;
use ebpfvm::{RcCall, Vm};
use serde_json::{json, Value};

use super::{read_file, CliError};

pub fn run(
    vm: &mut Vm,
    samples: Option<&str>,
    ctx: Option<&Path>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let samples: Vec<u32> = match (samples, ctx) {
        (Some(_), Some(_)) => {
            return Err(CliError::Usage("--sample and --ctx: give one".into()));
        }
        (Some(list), None) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| lirc::sample(s).map_err(|e| CliError::Usage(format!("--sample: {e}"))))
            .collect::<Result<_, _>>()?,
        (None, Some(path)) => {
            let bytes = read_file(&path.to_path_buf())?;
            let word: [u8; lirc::SIZE] = bytes.as_slice().try_into().map_err(|_| {
                CliError::Usage(format!(
                    "--ctx: a lirc_mode2 context is one u32 sample, 4 bytes; this is {}",
                    bytes.len()
                ))
            })?;
            vec![u32::from_le_bytes(word)]
        }
        (None, None) => Vec::new(),
    };
    if samples.is_empty() {
        return Err(CliError::Usage(
            "a `lirc_mode2` program needs samples: --sample pulse:560,space:560 (or --ctx FILE)"
                .into(),
        ));
    }
    let mut code = 0;
    for sample in samples {
        let mut ctx = sample.to_le_bytes();
        let outcome = vm.run_context(&mut ctx);
        let calls = vm.take_rc_calls();
        match (&outcome.result, json) {
            (Ok(r0), true) => {
                let rc: Vec<Value> = calls.iter().map(call_json).collect();
                println!(
                    "{}",
                    json!({ "sample": sample, "retval": *r0 as u32, "rc": rc, "insns": outcome.insns })
                );
            }
            (Ok(r0), false) => {
                println!("{} ({:#x})", *r0 as u32, *r0 as u32);
                for call in &calls {
                    println!("  {}", call_text(call));
                }
            }
            (Err(trap), true) => println!(
                "{}",
                json!({ "sample": sample, "trap": { "pc": trap.pc, "message": trap.to_string() }, "insns": outcome.insns })
            ),
            (Err(trap), false) => eprintln!("{trap}"),
        }
        if outcome.result.is_err() {
            code = 1;
        }
    }
    Ok(ExitCode::from(code))
}

fn call_json(call: &RcCall) -> Value {
    match *call {
        RcCall::Repeat => json!({ "repeat": {} }),
        RcCall::Keydown {
            protocol,
            scancode,
            toggle,
        } => json!({ "keydown": { "protocol": protocol, "scancode": scancode, "toggle": toggle } }),
        RcCall::PointerRel { x, y } => json!({ "pointer_rel": { "x": x, "y": y } }),
    }
}

fn call_text(call: &RcCall) -> String {
    match *call {
        RcCall::Repeat => "rc_repeat".into(),
        RcCall::Keydown {
            protocol,
            scancode,
            toggle,
        } => format!("rc_keydown protocol={protocol} scancode={scancode:#x} toggle={toggle}"),
        RcCall::PointerRel { x, y } => format!("rc_pointer_rel x={x} y={y}"),
    }
}

//! Map semantics through the host API: update flags, limits, errors, LRU eviction,
//! per-CPU views, LPM matching, queues, stacks, ring buffers and perf capture.

use ebpfvm_vm::maps::{BPF_ANY, BPF_EXIST, BPF_F_NO_PREALLOC, BPF_NOEXIST};
use ebpfvm_vm::{MapError, MapId, MapKind, MapSpec, Maps};

fn k(n: u32) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

fn v(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

fn create(maps: &mut Maps, kind: MapKind, key: u32, value: u32, max: u32) -> MapId {
    maps.create(MapSpec::new("m", kind, key, value, max))
        .unwrap()
}

#[test]
fn array_semantics() {
    let mut maps = Maps::new();
    let a = create(&mut maps, MapKind::Array, 4, 8, 3);
    assert_eq!(maps.lookup(a, &k(1)), Ok(v(0)), "elements start zeroed");
    assert_eq!(maps.update(a, &k(1), &v(7), BPF_ANY), Ok(()));
    assert_eq!(maps.update(a, &k(1), &v(8), BPF_EXIST), Ok(()));
    assert_eq!(
        maps.update(a, &k(1), &v(9), BPF_NOEXIST),
        Err(MapError::Exists)
    );
    assert_eq!(maps.update(a, &k(3), &v(9), BPF_ANY), Err(MapError::TooBig));
    assert_eq!(maps.update(a, &k(0), &v(9), 7), Err(MapError::Invalid));
    assert_eq!(maps.lookup(a, &k(3)), Err(MapError::NotFound));
    assert_eq!(maps.delete(a, &k(1)), Err(MapError::Invalid));
    assert_eq!(maps.lookup(a, &k(1)), Ok(v(8)));
    assert_eq!(maps.next_key(a, None), Ok(Some(k(0))));
    assert_eq!(maps.next_key(a, Some(&k(1))), Ok(Some(k(2))));
    assert_eq!(maps.next_key(a, Some(&k(2))), Ok(None));
    assert_eq!(maps.next_key(a, Some(&k(99))), Ok(Some(k(0))));
    assert_eq!(maps.entries(a).unwrap().len(), 3);
    assert_eq!(
        maps.create(MapSpec::new("bad", MapKind::Array, 8, 8, 1)),
        Err(MapError::Invalid)
    );
    assert_eq!(
        maps.create(MapSpec::new("bad", MapKind::Array, 4, 0, 1)),
        Err(MapError::Invalid)
    );
}

#[test]
fn percpu_views() {
    let mut maps = Maps::with_cpus(3);
    let a = create(&mut maps, MapKind::PercpuArray, 4, 4, 2);
    // The host sees round_up(4, 8) = 8 bytes per CPU.
    let all: Vec<u8> = [1u64, 2, 3].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(maps.update(a, &k(0), &all, BPF_ANY), Ok(()));
    assert_eq!(maps.lookup(a, &k(0)), Ok(all.clone()));
    assert_eq!(
        maps.update(a, &k(0), &[0; 4], BPF_ANY),
        Err(MapError::Invalid)
    );
    // A program on CPU 1 writes only its copy.
    assert!(maps.set_current_cpu(1));
    assert!(!maps.set_current_cpu(3));
    maps.prog_update(a, &k(0), &9u32.to_le_bytes(), BPF_ANY)
        .unwrap();
    let want: Vec<u8> = [1u64, 9, 3].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(maps.lookup(a, &k(0)), Ok(want));

    let h = create(&mut maps, MapKind::PercpuHash, 4, 8, 4);
    maps.prog_update(h, &k(5), &v(42), BPF_ANY).unwrap();
    let want: Vec<u8> = [0u64, 42, 0].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(maps.lookup(h, &k(5)), Ok(want));
}

#[test]
fn hash_semantics() {
    let mut maps = Maps::new();
    let h = create(&mut maps, MapKind::Hash, 4, 8, 2);
    assert_eq!(maps.lookup(h, &k(1)), Err(MapError::NotFound));
    assert_eq!(
        maps.update(h, &k(1), &v(1), BPF_EXIST),
        Err(MapError::NotFound)
    );
    assert_eq!(maps.update(h, &k(1), &v(1), BPF_NOEXIST), Ok(()));
    assert_eq!(
        maps.update(h, &k(1), &v(2), BPF_NOEXIST),
        Err(MapError::Exists)
    );
    assert_eq!(maps.update(h, &k(1), &v(3), BPF_EXIST), Ok(()));
    assert_eq!(maps.update(h, &k(2), &v(4), BPF_ANY), Ok(()));
    assert_eq!(
        maps.update(h, &k(3), &v(5), BPF_ANY),
        Err(MapError::TooBig),
        "full"
    );
    assert_eq!(
        maps.update(h, &k(2), &v(6), BPF_ANY),
        Ok(()),
        "replacing works when full"
    );
    assert_eq!(
        maps.update(h, &[1, 2], &v(6), BPF_ANY),
        Err(MapError::Invalid),
        "key size"
    );
    assert_eq!(maps.entries(h), Ok(vec![(k(1), v(3)), (k(2), v(6))]));
    assert_eq!(maps.delete(h, &k(1)), Ok(()));
    assert_eq!(maps.delete(h, &k(1)), Err(MapError::NotFound));
    assert_eq!(maps.update(h, &k(3), &v(5), BPF_ANY), Ok(()));
    assert_eq!(maps.next_key(h, None), Ok(Some(k(2))));
    assert_eq!(maps.next_key(h, Some(&k(2))), Ok(Some(k(3))));
    assert_eq!(maps.next_key(h, Some(&k(3))), Ok(None));
    assert_eq!(maps.lookup_and_delete(h, &k(3)), Ok(v(5)));
    assert_eq!(maps.lookup(h, &k(3)), Err(MapError::NotFound));
}

#[test]
fn lru_evicts_the_least_recently_used() {
    let mut maps = Maps::new();
    let h = create(&mut maps, MapKind::LruHash, 4, 8, 3);
    for i in 1..=3 {
        maps.prog_update(h, &k(i), &v(i as u64), BPF_ANY).unwrap();
    }
    // A program's lookup of 1 makes 2 the least recently used.
    assert_ne!(maps.prog_lookup(h, &k(1)), 0);
    maps.prog_update(h, &k(4), &v(4), BPF_ANY).unwrap();
    let keys: Vec<Vec<u8>> = maps
        .entries(h)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [k(1), k(3), k(4)]);
    // Host lookups do not count as uses: 3 is now the oldest.
    maps.lookup(h, &k(3)).unwrap();
    maps.update(h, &k(5), &v(5), BPF_ANY).unwrap();
    let keys: Vec<Vec<u8>> = maps
        .entries(h)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [k(1), k(4), k(5)]);
}

#[test]
fn lpm_trie_longest_prefix() {
    let mut maps = Maps::new();
    let mut spec = MapSpec::new("lpm", MapKind::LpmTrie, 8, 8, 4);
    assert_eq!(
        maps.create(spec.clone()),
        Err(MapError::Invalid),
        "needs BPF_F_NO_PREALLOC"
    );
    spec.flags = BPF_F_NO_PREALLOC;
    let t = maps.create(spec).unwrap();
    let key = |plen: u32, ip: [u8; 4]| [&plen.to_le_bytes()[..], &ip[..]].concat();
    maps.update(t, &key(8, [10, 0, 0, 0]), &v(8), BPF_ANY)
        .unwrap();
    maps.update(t, &key(24, [10, 1, 2, 0]), &v(24), BPF_ANY)
        .unwrap();
    maps.update(t, &key(16, [10, 1, 0, 0]), &v(16), BPF_ANY)
        .unwrap();
    assert_eq!(maps.lookup(t, &key(32, [10, 1, 2, 3])), Ok(v(24)));
    assert_eq!(maps.lookup(t, &key(32, [10, 1, 9, 3])), Ok(v(16)));
    assert_eq!(maps.lookup(t, &key(32, [10, 9, 9, 9])), Ok(v(8)));
    assert_eq!(
        maps.lookup(t, &key(32, [11, 0, 0, 0])),
        Err(MapError::NotFound)
    );
    assert_eq!(
        maps.lookup(t, &key(12, [10, 1, 2, 3])),
        Ok(v(8)),
        "lookup prefixlen limits the match"
    );
    assert_eq!(
        maps.update(t, &key(33, [0; 4]), &v(0), BPF_ANY),
        Err(MapError::Invalid)
    );
    assert_eq!(
        maps.update(t, &key(16, [10, 1, 7, 7]), &v(1), BPF_NOEXIST),
        Err(MapError::Exists)
    );
    maps.update(t, &key(0, [0; 4]), &v(0), BPF_ANY).unwrap();
    assert_eq!(
        maps.update(t, &key(4, [0; 4]), &v(0), BPF_ANY),
        Err(MapError::NoSpace)
    );
    assert_eq!(maps.delete(t, &key(24, [10, 1, 2, 0])), Ok(()));
    assert_eq!(maps.lookup(t, &key(32, [10, 1, 2, 3])), Ok(v(16)));
    assert_eq!(
        maps.delete(t, &key(24, [10, 1, 2, 0])),
        Err(MapError::NotFound)
    );
}

#[test]
fn queue_and_stack() {
    let mut maps = Maps::new();
    let q = create(&mut maps, MapKind::Queue, 0, 4, 2);
    let s = create(&mut maps, MapKind::Stack, 0, 4, 2);
    for m in [q, s] {
        assert_eq!(maps.prog_pop(m, true), Err(MapError::NotFound));
        maps.update(m, &[], &1u32.to_le_bytes(), BPF_ANY).unwrap();
        maps.update(m, &[], &2u32.to_le_bytes(), BPF_ANY).unwrap();
        assert_eq!(
            maps.update(m, &[], &3u32.to_le_bytes(), BPF_ANY),
            Err(MapError::TooBig)
        );
        assert_eq!(
            maps.update(m, &[], &3u32.to_le_bytes(), BPF_EXIST),
            Ok(()),
            "overwrites the oldest"
        );
        assert_eq!(
            maps.update(m, &[], &3u32.to_le_bytes(), 5),
            Err(MapError::Invalid)
        );
    }
    assert_eq!(maps.prog_pop(q, false), Ok(2u32.to_le_bytes().to_vec()));
    assert_eq!(maps.prog_pop(q, true), Ok(3u32.to_le_bytes().to_vec()));
    assert_eq!(maps.prog_pop(s, false), Ok(3u32.to_le_bytes().to_vec()));
    assert_eq!(
        maps.lookup_and_delete(s, &[]),
        Ok(2u32.to_le_bytes().to_vec())
    );
    assert_eq!(maps.prog_pop(s, false), Err(MapError::NotFound));
}

#[test]
fn ring_buffer_reserve_submit_discard() {
    let mut maps = Maps::new();
    let rb = maps
        .create(MapSpec::new("rb", MapKind::RingBuf, 0, 0, 4096))
        .unwrap();
    assert_eq!(
        maps.create(MapSpec::new("rb", MapKind::RingBuf, 0, 0, 1000)),
        Err(MapError::Invalid)
    );
    let a = maps.ringbuf_reserve(rb, 10, 0);
    let b = maps.ringbuf_reserve(rb, 4, 0);
    assert!(a != 0 && b != 0 && b > a);
    assert_eq!(maps.ringbuf_query(rb, 3), 24 + 16, "producer position");
    maps.ringbuf_commit(b, false).unwrap();
    assert_eq!(maps.ringbuf_pending(rb), Ok(vec![]), "a is still reserved");
    maps.ringbuf_commit(a, true).unwrap();
    assert_eq!(
        maps.ringbuf_commit(a, true),
        Err(MapError::Invalid),
        "twice"
    );
    assert_eq!(maps.ringbuf_pending(rb).unwrap().len(), 1);
    maps.ringbuf_output(rb, b"hello", 0).unwrap();
    let got = maps.ringbuf_consume(rb).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1], b"hello");
    assert_eq!(maps.ringbuf_query(rb, 0), 0, "all consumed");
    // Fill the ring: 4096 bytes hold 4096 / 16 records of 8 bytes.
    for _ in 0..256 {
        maps.ringbuf_output(rb, &[7; 8], 0).unwrap();
    }
    assert_eq!(maps.ringbuf_output(rb, &[7; 8], 0), Err(MapError::Again));
    assert_eq!(maps.ringbuf_reserve(rb, 1, 0), 0);
    assert_eq!(maps.ringbuf_consume(rb).unwrap().len(), 256);
    // Records wrap around the end of the ring.
    for i in 0..600u32 {
        maps.ringbuf_output(rb, &i.to_le_bytes().repeat(5), 0)
            .unwrap();
        assert_eq!(
            maps.ringbuf_consume(rb).unwrap(),
            vec![i.to_le_bytes().repeat(5)]
        );
    }
}

#[test]
fn prog_array_and_maps_of_maps() {
    let mut maps = Maps::new();
    let p = create(&mut maps, MapKind::ProgArray, 4, 4, 4);
    assert_eq!(maps.update(p, &k(1), &k(7), BPF_ANY), Ok(()));
    assert_eq!(
        maps.update(p, &k(1), &k(7), BPF_NOEXIST),
        Err(MapError::Invalid)
    );
    assert_eq!(maps.update(p, &k(4), &k(7), BPF_ANY), Err(MapError::TooBig));
    assert_eq!(maps.tail_call_target(p, 1), Some(7));
    assert_eq!(maps.tail_call_target(p, 0), None);
    assert_eq!(maps.entries(p), Ok(vec![(k(1), k(7))]));
    assert_eq!(maps.delete(p, &k(1)), Ok(()));
    assert_eq!(maps.delete(p, &k(1)), Err(MapError::NotFound));

    let inner = create(&mut maps, MapKind::Array, 4, 4, 1);
    let mut spec = MapSpec::new("outer", MapKind::ArrayOfMaps, 4, 4, 2);
    assert_eq!(
        maps.create(spec.clone()),
        Err(MapError::Invalid),
        "needs an inner template"
    );
    spec.inner = Some(Box::new(MapSpec::new("inner", MapKind::Array, 4, 4, 1)));
    let outer = maps.create(spec).unwrap();
    assert_eq!(
        maps.update(outer, &k(0), &k(99), BPF_ANY),
        Err(MapError::NoSuchMap)
    );
    maps.update(outer, &k(0), &inner.0.to_le_bytes(), BPF_ANY)
        .unwrap();
    assert_eq!(maps.prog_lookup(outer, &k(0)), inner.handle());
    assert_eq!(maps.prog_lookup(outer, &k(1)), 0);
    assert_eq!(MapId::from_handle(inner.handle()), Some(inner));
}

#[test]
fn perf_event_output_is_captured() {
    let mut maps = Maps::with_cpus(2);
    let p = create(&mut maps, MapKind::PerfEventArray, 4, 4, 2);
    maps.set_current_cpu(1);
    maps.perf_output(p, ebpfvm_vm::maps::BPF_F_CURRENT_CPU, b"abc")
        .unwrap();
    maps.perf_output(p, 0, b"d").unwrap();
    assert_eq!(maps.perf_output(p, 2, b"x"), Err(MapError::TooBig));
    assert_eq!(maps.perf_output(p, 1 << 40, b"x"), Err(MapError::Invalid));
    let r = maps.take_perf_records(p).unwrap();
    assert_eq!(
        (r[0].index, r[0].data.as_slice(), r[1].index),
        (1, &b"abc"[..], 0)
    );
    assert!(maps.perf_records(p).unwrap().is_empty());
}

#[test]
fn errors_carry_kernel_errnos() {
    assert_eq!(MapError::NotFound.errno(), 2);
    assert_eq!(MapError::Exists.errno(), 17);
    assert_eq!(MapError::TooBig.errno(), 7);
    assert_eq!(MapError::Invalid.to_retval(), (-22i64) as u64);
}

#[test]
fn oversized_maps_are_refused_not_aborted() {
    let mut maps = Maps::new();
    let r = maps.create(MapSpec::new("huge", MapKind::Array, 4, 1 << 20, u32::MAX));
    assert_eq!(r, Err(MapError::TooBig));
}

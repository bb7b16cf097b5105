//! No panics on hostile input: truncated and corrupted ELF files, tar
//! archives, gzip and zstd streams and loader caches.

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn elf_truncations_and_corruptions() {
    let src = std::fs::read("/usr/bin/ls").unwrap();
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("x");
    let mut seed = 1;
    for i in 0..400 {
        let mut b = src.clone();
        if i % 2 == 0 {
            b.truncate((lcg(&mut seed) as usize) % 8192);
        } else {
            for _ in 0..8 {
                let at = (lcg(&mut seed) as usize) % 4096.min(b.len());
                b[at] = lcg(&mut seed) as u8;
            }
        }
        std::fs::write(&f, &b).unwrap();
        let _ = mkrootfs::elf::parse(&f);
        let mut r = mkrootfs::resolve::Resolver::default();
        let _ = r.closure(&f, &[]);
    }
}

#[test]
fn tar_gzip_zstd_cache_garbage() {
    let mut seed = 7;
    let d = tempfile::tempdir().unwrap();
    let sh = |cmd: &str| {
        std::process::Command::new("sh")
            .args(["-c", cmd])
            .output()
            .unwrap()
            .stdout
    };
    let tar = sh("tar -C /usr/share/doc -cf - bash 2>/dev/null");
    let gz = sh("tar -C /usr/share/doc -cf - bash 2>/dev/null | gzip -c");
    let zst = sh("tar -C /usr/share/doc -cf - bash 2>/dev/null | zstd -c 2>/dev/null");
    let cache = std::fs::read("/etc/ld.so.cache").unwrap_or_default();
    let f = d.path().join("layer");
    let dest = d.path().join("dest");
    for i in 0..100 {
        for base in [&gz, &tar, &zst, &cache] {
            if base.is_empty() {
                continue;
            }
            let mut b = base.clone();
            if i % 2 == 0 {
                b.truncate((lcg(&mut seed) as usize) % b.len());
            } else {
                for _ in 0..4 {
                    let at = (lcg(&mut seed) as usize) % b.len();
                    b[at] = lcg(&mut seed) as u8;
                }
            }
            std::fs::write(&f, &b).unwrap();
            if mkrootfs::import::import(&f, &dest).is_err() {
                assert!(!dest.exists(), "a failed import leaves nothing");
            }
            let _ = std::fs::remove_dir_all(&dest);
            let _ = mkrootfs::ldconf::parse_cache(&b);
        }
    }
}

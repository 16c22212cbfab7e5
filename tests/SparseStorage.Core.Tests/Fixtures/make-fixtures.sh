#!/usr/bin/env bash
# Regenerates the header corpus of the format fuzz tests from real tools (qemu-img, cryptsetup, mkfs.*, mkswap).
# Only the bytes the native readers look at are kept: everything else is zeroed (key material included) and
# filesystem images are cut to the first 68 KiB, so the gzipped fixtures stay a few KiB each.
# Usage: tests/SparseStorage.Core.Tests/Fixtures/make-fixtures.sh   (needs root for nothing; run from anywhere)
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d /var/tmp/sparse-fixtures-XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
probe=$((0x10000 + 0x1000))
printf 'fuzz-fixture-key' > key

# keep FILE BYTES: zero everything after the first BYTES bytes, keeping the file's length
keep() { local size; size=$(stat -c %s "$1"); truncate -s "$2" "$1"; truncate -s "$size" "$1"; }
# zero FILE OFFSET LENGTH
zero() { dd if=/dev/zero of="$1" bs=4096 seek=$(($2 / 4096)) count=$(($3 / 4096)) conv=notrunc status=none; }
# u64be FILE OFFSET
u64be() { od -A n -t u8 --endian=big -j "$2" -N 8 "$1" | tr -d ' '; }

# filesystems: the first 68 KiB hold every superblock field the readers use
truncate -s 8M ext4.img && mkfs.ext4 -q -L tenant-ext4 ext4.img
truncate -s 8M ext2.img && mkfs.ext2 -q -L tenant-ext2 ext2.img
truncate -s 300M xfs.img && mkfs.xfs -q -L tenant-xfs xfs.img
truncate -s 128M btrfs.img && mkfs.btrfs -q -L tenant-btrfs btrfs.img
truncate -s 4M swap.img && mkswap -q -L tenant-swap swap.img
for fs in ext4 ext2 xfs btrfs swap; do truncate -s $probe $fs.img; done

# qcow2: v2 and v3 holding ext4 (only its first 68 KiB), different cluster sizes
cp ext4.img guest.raw && truncate -s 8M guest.raw
qemu-img convert -q -f raw -O qcow2 -o compat=0.10 guest.raw qcow2-v2-ext4.qcow2
qemu-img convert -q -f raw -O qcow2 -o cluster_size=16384 guest.raw qcow2-v3-ext4.qcow2
qemu-img create -q -f qcow2 -b qcow2-v3-ext4.qcow2 -F qcow2 qcow2-backing.qcow2
qemu-img create -q -f qcow2 -o data_file=qcow2-datafile.raw qcow2-datafile.qcow2 16M
cp qcow2-v3-ext4.qcow2 qcow2-snapshots.qcow2
for s in nightly-1 nightly-2 before-upgrade; do qemu-img snapshot -c "$s" qcow2-snapshots.qcow2; done
qemu-img create -q -f qcow2 --object secret,id=sec0,file=key \
    -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 qcow2-luks.qcow2 16M
# keep the embedded LUKS header's first 4 KiB; zero its key material
crypto=$(u64be qcow2-luks.qcow2 120); length=$(u64be qcow2-luks.qcow2 128)
zero qcow2-luks.qcow2 $((crypto + 4096)) $((length - 4096))

# raw LUKS containers; the key comes from a file, never from an argument
truncate -s 4M luks1.img
cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file key luks1.img
keep luks1.img 4096
truncate -s 4M luks2.img
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --luks2-metadata-size 16k --luks2-keyslots-size 1m --key-file key luks2.img
keep luks2.img 32768

rm -f "$out"/*.gz
for f in ext4.img ext2.img xfs.img btrfs.img swap.img qcow2-*.qcow2 luks1.img luks2.img; do
    gzip -9 -n -c "$f" > "$out/$f.gz"
done
ls -l "$out"

using System.Diagnostics;
using System.Security.Cryptography;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Bench;

/// <summary>
/// Encryption at rest: (1) Protect-Volume of a 20 GiB raw image holding 1 GiB of scattered data against qemu-img
/// convert into an encrypted target (qcow2+LUKS, which stays thin, and raw LUKS, which does not), with allocated bytes;
/// (2) sequential write and read of a 1 GiB file through a mounted volume, plain against unlocked in userspace.
/// </summary>
internal sealed class EncryptionBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Label = "encryption";
    private const int IterationTime = 100;
    private const long FileBytes = 1L << 30;
    private string pool = "", scratch = "", template = "", keyFile = "";

    public void Run()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            report.Section(Label);
            report.Summary(Label, "skipped", "needs root");
            return;
        }
        pool = environment.NewPool("bench-encryption");
        scratch = environment.Scratch("encryption-peers");
        keyFile = Path.Combine(scratch, "bench.key");
        File.WriteAllText(keyFile, Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)));
        try
        {
            Protect();
            Throughput();
        }
        finally
        {
            var encrypted = Path.Combine(pool, "enc.img");
            if (File.Exists(encrypted) && Volume(encrypted).IsAttached)
                Lock(Volume(encrypted));
            Directory.Delete(pool, recursive: true);
            Directory.Delete(scratch, recursive: true);
        }
    }

    private int Runs => options.CopyRuns;

    private SparseVolume Volume(string path) => new VolumeCatalog(environment.Context).Get(path);

    private SparseVolume Protect(SparseVolume volume, VolumeKey key)
    {
        var protector = new VolumeProtector(environment.Context);
        return protector.Apply(protector.Plan(new ProtectVolumeRequest(volume, [key], IterationTimeMilliseconds: IterationTime)));
    }

    private void Lock(SparseVolume volume)
    {
        var unlocker = new VolumeUnlocker(environment.Context);
        unlocker.Apply(unlocker.Plan(new LockVolumeRequest(volume, Dismount: true)));
    }

    // ---- 1. Protect-Volume against qemu-img convert into an encrypted target

    private void Protect()
    {
        report.Section($"encryption: Protect-Volume of a 20 GiB raw image holding 1 GiB of scattered data (median of {Runs} cold runs; raw LUKS peer 1 run)");
        report.Line($"SparseStorage: {CopyBenchmark.Revision()}; {CopyBenchmark.FirstLine("qemu-img", "--version")}; {CopyBenchmark.FirstLine("cryptsetup", "--version")}");
        report.Line($"PBKDF time {IterationTime} ms for every contender; each run starts from a fresh sparse copy of the source (untimed), caches dropped; outputs fsynced inside the timed span");
        template = Path.Combine(scratch, "source-20g.img");
        ScatteredData.Write([(template, CopyComparison.SmallSize)]);
        var target = Path.Combine(pool, "protect.img");
        var qcow2Out = Path.Combine(scratch, "peer.qcow2");
        var luksOut = Path.Combine(scratch, "peer.luks");
        var secretArgument = $"secret,id=k0,file={keyFile}";
        var times = new Dictionary<string, List<double>> { ["ours"] = [], ["qcow2"] = [], ["luks"] = [] };
        var allocated = new Dictionary<string, long>();
        for (var run = 0; run < Runs; run++)
        {
            Fresh(target);
            times["ours"].Add(Timed(() =>
            {
                using var key = VolumeKey.FromFile(keyFile);
                Protect(Volume(target), key);
            }));
            allocated["ours"] = CopyVerifier.Allocated(target);
            times["qcow2"].Add(Timed(() => Peer(qcow2Out, "convert", "-m", "8", "-W", "--object", secretArgument, "-O", "qcow2",
                "-o", $"encrypt.format=luks,encrypt.key-secret=k0,encrypt.iter-time={IterationTime}", template, qcow2Out)));
            allocated["qcow2"] = CopyVerifier.Allocated(qcow2Out);
            File.Delete(qcow2Out);
            if (run == 0)
            {
                times["luks"].Add(Timed(() => Peer(luksOut, "convert", "-m", "8", "-W", "--object", secretArgument, "-O", "luks",
                    "-o", $"key-secret=k0,iter-time={IterationTime}", template, luksOut)));
                allocated["luks"] = CopyVerifier.Allocated(luksOut);
                File.Delete(luksOut);
            }
        }
        var sourceAllocated = CopyVerifier.Allocated(template);
        var ours = Stats.Median(times["ours"]);
        report.Line($"ours (VolumeProtector → LUKS1, write + verify through the userspace view): {Stats.Spread(times["ours"])}; allocated {Stats.Bytes(sourceAllocated)} before, {Stats.Bytes(allocated["ours"])} after");
        report.Line($"qemu-img convert -O qcow2 -o encrypt.format=luks: {Stats.Spread(times["qcow2"])}; allocated {Stats.Bytes(allocated["qcow2"])}");
        report.Line($"qemu-img convert -O luks: {Stats.Spread(times["luks"])}; allocated {Stats.Bytes(allocated["luks"])}");
        report.Summary(Label, "Protect-Volume 20 GiB / 1 GiB data, cold: ours / qemu-img → qcow2+LUKS / qemu-img → raw LUKS",
            $"{Stats.Duration(ours)} / {Stats.Duration(Stats.Median(times["qcow2"]))} / {Stats.Duration(times["luks"][0])}");
        report.Summary(Label, "ratio qemu-img → qcow2+LUKS / ours; qemu-img → raw LUKS / ours",
            $"{Stats.Ratio(Stats.Median(times["qcow2"]) / ours)}; {Stats.Ratio(times["luks"][0] / ours)}");
        report.Summary(Label, "allocated: source / ours / qcow2+LUKS / raw LUKS",
            $"{Stats.Bytes(sourceAllocated)} / {Stats.Bytes(allocated["ours"])} / {Stats.Bytes(allocated["qcow2"])} / {Stats.Bytes(allocated["luks"])}",
            $"thin after protection: {(allocated["ours"] < sourceAllocated + (8L << 20) ? "yes" : "NO")}");
        File.Delete(target);
    }

    private void Fresh(string target)
    {
        File.Delete(target);
        Shell.Run("cp", "--sparse=always", template, target);
        PageCache.Prepare(cold: true);
    }

    private static void Peer(string output, params string[] arguments)
    {
        Shell.Run("qemu-img", arguments);
        Shell.Run("sync", output);
    }

    private static double Timed(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }

    // ---- 2. throughput through a mounted volume

    private void Throughput()
    {
        report.Section($"encryption: sequential write (then fsync) and cold read of a 1 GiB file through a mounted 4 GiB ext4 volume, median of {Runs}");
        var plain = Throughput("plain.img", encrypted: false);
        var encrypted = Throughput("enc.img", encrypted: true);
        var (writeRatio, readRatio) = (plain.Write / encrypted.Write, plain.Read / encrypted.Read);
        report.Line($"plain raw (loop): write {MegabytesPerSecond(plain.Write)}, read {MegabytesPerSecond(plain.Read)}");
        report.Line($"LUKS1 unlocked in userspace (qemu-storage-daemon FUSE + loop): write {MegabytesPerSecond(encrypted.Write)}, read {MegabytesPerSecond(encrypted.Read)}");
        report.Summary(Label, "write MB/s plain / encrypted (userspace)", $"{MegabytesPerSecond(plain.Write)} / {MegabytesPerSecond(encrypted.Write)}", $"encrypted at {Stats.F(writeRatio * 100, "0")}% of plain");
        report.Summary(Label, "read MB/s plain / encrypted (userspace), cold", $"{MegabytesPerSecond(plain.Read)} / {MegabytesPerSecond(encrypted.Read)}", $"encrypted at {Stats.F(readRatio * 100, "0")}% of plain");
    }

    private (double Write, double Read) Throughput(string file, bool encrypted)
    {
        var creator = new VolumeCreator(environment.Context);
        var volume = creator.Create(creator.Plan(new NewVolumeRequest { Name = Path.GetFileNameWithoutExtension(file), Pool = "bench-encryption", Size = ByteSize.Parse("4GiB"), FileSystem = FileSystemType.Ext4 }));
        using var key = VolumeKey.FromFile(keyFile);
        if (encrypted)
            volume = Protect(volume, key);
        var mountPoint = environment.Scratch("mnt-" + file);
        var mounter = new VolumeMounter(environment.Context);
        var mounted = mounter.Mount(volume, mountPoint, readOnly: false, [key], allowDiscards: false);
        var (writes, reads) = (new List<double>(), new List<double>());
        var data = RandomNumberGenerator.GetBytes(64 << 20);
        try
        {
            for (var run = 0; run < Runs; run++)
            {
                var path = Path.Combine(mountPoint, $"data-{run}.bin");
                writes.Add(Timed(() => WriteFile(path, data)));
                PageCache.Prepare(cold: true);
                reads.Add(Timed(() => ReadFile(path)));
                File.Delete(path);
            }
        }
        finally
        {
            mounter.Dismount(mounted);
            Directory.Delete(mountPoint);
        }
        return (Stats.Median(writes), Stats.Median(reads));
    }

    private static void WriteFile(string path, byte[] data)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        for (long written = 0; written < FileBytes; written += data.Length)
            file.Write(data);
        file.Flush(flushToDisk: true);
    }

    private static void ReadFile(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var buffer = new byte[8 << 20];
        while (file.Read(buffer) > 0)
        {
        }
    }

    private static string MegabytesPerSecond(double milliseconds) => Stats.F(FileBytes / 1e6 / (milliseconds / 1000), "0") + " MB/s";
}

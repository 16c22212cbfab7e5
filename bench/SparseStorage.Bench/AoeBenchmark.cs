using System.Diagnostics;
using System.Security.Cryptography;
using SparseStorage.Core.Aoe;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Bench;

/// <summary>
/// Sequential reads of a 1 GiB export (Export-AtaoeDisk's vblade in a node namespace) through the module's AoE client
/// in a supervisor namespace, over a veth pair at MTU 1500 and 9000: pipelined (requests in flight up to the target's
/// buffer count) against one request at a time, and against reading the same file locally. The page cache holds the
/// image throughout, so the figures are those of the protocol path, not of the disk.
/// </summary>
internal sealed class AoeBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Label = "aoe";
    private const long ImageBytes = 1L << 30;
    private const int CallBytes = 4 << 20;
    /// <summary>One request at a time is slow: it reads this much, and its rate is compared.</summary>
    private const long SingleBytes = 128L << 20;
    private static readonly int[] Mtus = [1500, 9000];

    private int Runs => options.CopyRuns;

    public void Run()
    {
        report.Section($"aoe: method (median of {Runs} runs each)");
        if (!Environment.IsPrivilegedProcess)
        {
            report.Line("skipped: needs root (namespaces, vblade's raw socket)");
            report.Summary(Label, "skipped", "needs root");
            return;
        }
        var pool = environment.NewPool("bench-aoe");
        try
        {
            var volume = CreateImage(pool);
            var local = LocalRate(volume.Path);
            report.Summary(Label, "local sequential read of the image (page cache), 4 MiB reads", Rate(local));
            foreach (var mtu in Mtus)
                Measure(volume, mtu, local);
        }
        finally
        {
            Directory.Delete(pool, recursive: true);
        }
    }

    private SparseVolume CreateImage(string pool)
    {
        var creator = new VolumeCreator(environment.Context);
        var volume = creator.Create(creator.Plan(new NewVolumeRequest { Name = "export-1g", Pool = "bench-aoe", Size = new ByteSize(ImageBytes), FileSystem = FileSystemType.None }));
        var chunk = new byte[CallBytes];
        var random = new Random(1);
        using (var stream = new FileStream(volume.Path, FileMode.Open, FileAccess.Write))
            for (long written = 0; written < ImageBytes; written += chunk.Length)
            {
                random.NextBytes(chunk);
                stream.Write(chunk);
            }
        report.Line($"SparseStorage: {CopyBenchmark.Revision()}; vblade {Shell.Run("dpkg-query", "-W", "-f", "${Version}", "vblade")}; kernel {Shell.Run("uname", "-r").Trim()}");
        report.Line($"image: {volume.Path}, 1 GiB of random bytes, fully allocated, read once before timing so the page cache holds it");
        report.Line("network: two fresh namespaces joined by one veth pair (both ends at the MTU); vblade started by AtaoeExportService in the node namespace, default buffer count");
        report.Line($"client: AoeClient in the supervisor namespace; reads of {CallBytes >> 20} MiB calls, LBA48 READ SECTORS EXT, frames of (MTU - 22) / 512 sectors");
        report.Line($"one at a time: MaxInFlight = 1 over the first {SingleBytes >> 20} MiB; MB/s is 10^6 bytes per second");
        return volume;
    }

    private double LocalRate(string path)
    {
        var buffer = new byte[CallBytes];
        PageCache.Load(path);
        return Median(() =>
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            while (stream.Read(buffer) > 0)
            {
            }
            return ImageBytes;
        });
    }

    private void Measure(SparseVolume volume, int mtu, double local)
    {
        using var lab = new AoeLab(nodes: 1, mtu: mtu);
        var service = new AtaoeExportService(environment.Context);
        lab.InNode(1, () => service.Export(new AtaoeExportRequest { Volume = volume, Shelf = 60, Slot = mtu == 1500 ? 15 : 90, Interface = lab.NodeInterface(1), ReadOnly = true }));
        try
        {
            var (pipelined, single, target, retransmissions, correct) = lab.InSupervisor(() => ReadThroughClient(lab.SupervisorInterface, volume.Path));
            report.Line($"MTU {mtu}: target e{target.Shelf}.{target.Slot}, {target.BufferCount} buffers, {target.MaxSectorsPerRequest} sectors a request; " +
                        $"pipelined {Rate(pipelined)}, one at a time {Rate(single)}; retransmissions {retransmissions}; bytes read match the image: {(correct ? "yes" : "NO")}");
            report.Summary(Label, $"sequential read 1 GiB over veth, MTU {mtu}, pipelined ({target.BufferCount} in flight)", Rate(pipelined), correct ? "bytes match the image" : "bytes DIFFER");
            report.Summary(Label, $"ratio AoE / local read, MTU {mtu}", Stats.Ratio(pipelined / local));
            report.Summary(Label, $"ratio pipelined / one at a time, MTU {mtu} ({Rate(single)} one at a time)", Stats.Ratio(pipelined / single),
                $"≥ 4×: {(pipelined / single >= 4 ? "met" : "NOT met")}");
        }
        finally
        {
            lab.InNode(1, () => service.List().Select(e => service.Stop(e.Shelf, e.Slot, e.Interface)).ToList());
        }
    }

    private (double Pipelined, double Single, AtaoeTarget Target, long Retransmissions, bool Correct) ReadThroughClient(string interfaceName, string imagePath)
    {
        using var client = AoeClient.Open(interfaceName);
        var target = client.Discover(TimeSpan.FromSeconds(1)).Single();
        var disk = client.Connect(target);
        var buffer = new byte[CallBytes];
        var correct = ReadAll(disk, buffer, ImageBytes, SHA256.Create()) == Hash(imagePath);
        var pipelined = Median(() => ReadAll(disk, buffer, ImageBytes, null) is { } ? ImageBytes : 0);
        var oneAtATime = client.Connect(target, new AoeDiskOptions { MaxInFlight = 1 });
        var single = Median(() => ReadAll(oneAtATime, buffer, SingleBytes, null) is { } ? SingleBytes : 0);
        return (pipelined, single, target, disk.Retransmissions + oneAtATime.Retransmissions, correct);
    }

    private static string ReadAll(AoeDisk disk, byte[] buffer, long bytes, HashAlgorithm? hash)
    {
        for (long offset = 0; offset < bytes; offset += buffer.Length)
        {
            disk.Read(offset / 512, buffer);
            hash?.TransformBlock(buffer, 0, buffer.Length, null, 0);
        }
        hash?.TransformFinalBlock([], 0, 0);
        return hash is null ? "" : Convert.ToHexString(hash.Hash!);
    }

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>The median rate, bytes per second, of runs that each return how many bytes they read.</summary>
    private double Median(Func<long> run)
    {
        var rates = new List<double>();
        for (var i = 0; i < Runs; i++)
        {
            var clock = Stopwatch.StartNew();
            var bytes = run();
            rates.Add(bytes / clock.Elapsed.TotalSeconds);
        }
        return Stats.Median(rates);
    }

    private static string Rate(double bytesPerSecond) => Stats.F(bytesPerSecond / 1e6, "0.0") + " MB/s";
}

namespace SparseStorage.Bench;

/// <summary>
/// Copy-SparseVolume of a 20 GiB sparse raw image holding 1 GiB of scattered data against cp --sparse=always,
/// rsync -S and qemu-img convert, cold and warm, in two pools: a directory in the working directory (ext4 under
/// /var/tmp: no reflink) and an xfs filesystem with reflink=1 on a loop device, made for the run and removed after it.
/// </summary>
internal sealed class CopyBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    internal const long XfsSize = 30L << 30;

    public void Run()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            report.Section("copy");
            report.Line("skipped: needs root (drop_caches before cold runs, losetup and mount for the xfs pool)");
            report.Summary("copy", "skipped", "needs root");
            return;
        }
        DescribeMethod();
        RunInDirectory();
        RunOnXfs();
    }

    private void DescribeMethod()
    {
        report.Section($"copy: method (median of {options.CopyRuns} cold and {options.CopyRuns} warm runs per contender; rsync 1 of each, it is slow)");
        report.Line($"SparseStorage: {Revision()}");
        report.Line($"tools: {FirstLine("cp", "--version")}; {FirstLine("rsync", "--version")}; {FirstLine("qemu-img", "--version")}; kernel {Shell.Run("uname", "-r").Trim()}");
        report.Line("cold: sync, echo 3 > /proc/sys/vm/drop_caches, then the copy; warm: sync, the source's data extents read into the page cache, then the copy");
        report.Line("each time ends with the copy on disk: ours fsync the copy themselves; a peer tool is followed by `sync DESTINATION` (fsync of that file), inside the timed span");
        report.Line("the destination is a new file beside the source, deleted after each run; rounds interleave the contenders; ratios are time_peer / time_ours (> 1: ours faster)");
    }

    private void RunInDirectory()
    {
        var pool = environment.NewPool("bench-copy");
        report.Section($"copy on {environment.FileSystemType}: a directory pool in the working directory ({pool})");
        new CopyComparison(environment, report, $"copy ({environment.FileSystemType})", pool, options.CopyRuns).Run();
    }

    private void RunOnXfs()
    {
        var xfs = XfsLoopMount.Create(environment.Root, XfsSize);
        try
        {
            var pool = environment.RegisterPool("bench-copy-xfs", Directory.CreateDirectory(Path.Combine(xfs.MountPoint, "pool")).FullName);
            report.Section($"copy on xfs: mkfs.xfs -m reflink=1 on a {ByteSize.Format(XfsSize)} sparse file on {xfs.Device} ({pool})");
            report.Line($"xfs_info: {xfs.Describe()}");
            new CopyComparison(environment, report, "copy (xfs, reflink=1)", pool, options.CopyRuns).Run();
        }
        finally
        {
            xfs.Dispose();
        }
    }

    /// <summary>The commit the engine was built from (`git describe --always --dirty`) and how many files under src/ differ from it.</summary>
    internal static string Revision()
    {
        var (exitCode, stdout, _) = Shell.TryRun("git", "-C", AppContext.BaseDirectory, "describe", "--always", "--dirty");
        if (exitCode != 0)
            return "commit unknown (not run from a git checkout)";
        var changed = Shell.Run("git", "-C", AppContext.BaseDirectory, "status", "--porcelain", "--", ":/src").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        return $"commit {stdout.Trim()}, {changed} uncommitted change(s) under src/";
    }

    internal static string FirstLine(string tool, string argument) => Shell.Run(tool, argument).Split('\n')[0].Trim();
}

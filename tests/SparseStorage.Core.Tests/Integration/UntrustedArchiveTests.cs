using System.Diagnostics;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Archives made by someone else, built with the real GNU tar and zstd: whatever they hold besides one regular file is
/// refused before anything appears in the pool, nothing outside changes, and nothing hangs.
/// </summary>
public sealed class UntrustedArchiveTests : IDisposable
{
    private static readonly TimeSpan NoHangBound = TimeSpan.FromSeconds(60);
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly string staging;
    private readonly string canary;

    public UntrustedArchiveTests()
    {
        context = pool.Context();
        staging = pool.Combine("staging");
        Directory.CreateDirectory(staging);
        canary = pool.Combine("outside", "canary.img");
        Directory.CreateDirectory(Path.GetDirectoryName(canary)!);
        File.WriteAllBytes(canary, System.Security.Cryptography.RandomNumberGenerator.GetBytes(64 << 10));
    }

    public static TheoryData<string> Crafted => ["device", "fifo", "symlink", "hardlink", "two-members", "dot-dot-name", "directory-name"];

    [IntegrationTheory("tar", "zstd", "mknod", "mkfifo")]
    [MemberData(nameof(Crafted))]
    public void A_crafted_archive_is_refused_quickly_and_nothing_appears_in_the_pool_or_changes_outside(string kind)
    {
        var archive = Craft(kind);
        var canaryBefore = Files.HashFile(canary);
        var archives = new ArchiveService(context);
        var plan = archives.Plan(new ExpandVolumeRequest(archive, Path.Combine(pool.PoolPath, "victim.img")));
        using var bound = new CancellationTokenSource(NoHangBound);
        var clock = Stopwatch.StartNew();

        var refusal = FluentActions.Invoking(() => archives.Apply(plan, cancellationToken: bound.Token))
            .Should().Throw<UnsafeArchiveMemberException>().Which;

        refusal.ErrorId.Should().Be("UnsafeArchiveMember");
        refusal.Message.Should().Contain("Nothing was expanded");
        clock.Elapsed.Should().BeLessThan(NoHangBound, "a refusal does not wait for anything");
        Directory.GetFileSystemEntries(pool.PoolPath).Should().BeEmpty("nothing, not even a hidden partial file, is left in the pool");
        Files.HashFile(canary).Should().Be(canaryBefore);
        File.Exists(canary).Should().BeTrue();
        new FileInfo(canary).LinkTarget.Should().BeNull();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("mkfifo")]
    public void An_archive_path_that_is_a_fifo_is_refused_without_blocking()
    {
        var fifo = pool.Combine("outside", "pipe.img.tar.zst");
        Run("mkfifo", fifo);
        var archives = new ArchiveService(context);
        var plan = archives.Plan(new ExpandVolumeRequest(fifo, Path.Combine(pool.PoolPath, "pipe.img")));
        using var bound = new CancellationTokenSource(NoHangBound);

        var expand = Task.Run(() => archives.Apply(plan, cancellationToken: bound.Token));

        Task.WhenAny(expand, Task.Delay(NoHangBound)).Result.Should().BeSameAs(expand, "opening a FIFO must not wait for a writer");
        expand.Exception!.InnerException.Should().BeOfType<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("NotARegularFile");
        Directory.GetFileSystemEntries(pool.PoolPath).Should().BeEmpty();
    }

    [IntegrationTheory("tar", "zstd", "cmp")]
    [InlineData("gnu", "plain.img")]
    [InlineData("posix", "plain.img")]
    [InlineData("gnu", "./plain.img")]
    public void A_plain_file_archived_by_tar_itself_expands_byte_identical_owned_by_root_with_mode_0600(string format, string member)
    {
        var source = Path.Combine(staging, "plain.img");
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(3 << 20);
        Array.Clear(bytes, 1 << 20, 1 << 20); // a zero MiB in the middle, which stays a hole
        File.WriteAllBytes(source, bytes);
        File.SetUnixFileMode(source, (UnixFileMode)0b111_111_111);
        Run("chown", "1234:1234", source);
        var archive = Path.Combine(pool.Root, "plain.img.tar.zst");
        Run("tar", $"--format={format}", "--create", "--zstd", $"--file={archive}", $"--directory={staging}", member);

        var archives = new ArchiveService(context);
        var expanded = archives.Apply(archives.Plan(new ExpandVolumeRequest(archive, Path.Combine(pool.PoolPath, "back.img"))));

        Run("cmp", source, expanded.Path);
        var status = Libc.Stat(expanded.Path);
        (status.Mode & 0xFFF).Should().Be(0b110_000_000, "the archive's 0777 is never applied");
        status.Uid.Should().Be(0u, "the archive's owner is never applied");
        status.AllocatedBytes.Should().BeLessThanOrEqualTo(2L << 20, "the zero MiB is left a hole");
    }

    /// <summary>An archive of <paramref name="kind"/>, made by GNU tar from real files (as root: devices and all) and compressed by zstd.</summary>
    private string Craft(string kind)
    {
        var tar = Path.Combine(pool.Root, kind + ".tar");
        var member = Path.Combine(staging, "victim.img");
        switch (kind)
        {
            case "device":
                Run("mknod", "--mode=0666", member, "b", "7", "0");
                Tar(tar, "victim.img");
                break;
            case "fifo":
                Run("mkfifo", member);
                Tar(tar, "victim.img");
                break;
            case "symlink":
                File.CreateSymbolicLink(member, canary);
                Tar(tar, "victim.img");
                break;
            case "hardlink":
                // A hard link member whose target is not in the archive: tar --delete removes the first name.
                File.WriteAllText(Path.Combine(staging, "first.img"), "x");
                Run("ln", Path.Combine(staging, "first.img"), member);
                Tar(tar, "first.img", "victim.img");
                Run("tar", "--delete", $"--file={tar}", "first.img");
                break;
            case "two-members":
                File.WriteAllText(member, "one");
                File.WriteAllText(Path.Combine(staging, "second.img"), "two");
                Tar(tar, "victim.img", "second.img");
                break;
            case "dot-dot-name":
                Directory.CreateDirectory(Path.Combine(staging, "sub"));
                File.WriteAllText(Path.Combine(staging, "x"), "escaped");
                Run("tar", "--create", "--absolute-names", $"--file={tar}", $"--directory={Path.Combine(staging, "sub")}", "../x");
                break;
            case "directory-name":
                Directory.CreateDirectory(Path.Combine(staging, "dir"));
                File.WriteAllText(Path.Combine(staging, "dir", "victim.img"), "nested");
                Run("tar", "--create", $"--file={tar}", $"--directory={staging}", "--no-recursion", "dir/victim.img");
                break;
        }
        var archive = Path.Combine(pool.Root, "victim.img" + ArchiveService.Extension);
        File.Delete(archive);
        Run("zstd", "-q", "--rm", "-o", archive, tar);
        return archive;
    }

    private void Tar(string tar, params string[] members) =>
        Run("tar", ["--create", "--format=gnu", $"--file={tar}", $"--directory={staging}", .. members]);

    private static void Run(string tool, params string[] arguments) => new ProcessRunner().RunChecked(new ToolCommand(tool, arguments));

    public void Dispose() => pool.Dispose();
}

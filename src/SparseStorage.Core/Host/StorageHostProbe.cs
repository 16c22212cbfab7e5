using System.Text.RegularExpressions;
using SparseStorage.Core.Native;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Host;

/// <summary>Finds out what this host can do: privileges, kernel filesystems and features, tools and their versions.</summary>
public sealed partial class StorageHostProbe(StorageContext context, ToolLocator locator)
{
    /// <summary>Each tool the module calls, with the argument that makes it print its version.</summary>
    private static readonly (string Tool, string VersionArgument)[] KnownTools =
    [
        ("qemu-img", "--version"), ("qemu-storage-daemon", "--version"), ("losetup", "--version"), ("mount", "--version"),
        ("mkfs.ext4", "-V"), ("e2fsck", "-V"), ("resize2fs", "--help"), ("mkfs.xfs", "-V"), ("xfs_growfs", "-V"),
        ("mkfs.btrfs", "--version"), ("btrfs", "--version"), ("mkswap", "--version"), ("fsfreeze", "--version"),
        ("fstrim", "--version"), ("cryptsetup", "--version"), ("vblade", "--help"), ("zstd", "--version"),
        ("fusermount3", "--version"), ("rbd", "--version"), ("ceph", "--version"),
    ];

    [GeneratedRegex(@"\d+\.\d+(\.\d+)?")]
    private static partial Regex VersionPattern();

    public StorageHost Probe(CancellationToken cancellationToken = default)
    {
        // One after another: each takes a few milliseconds, and blocking pool threads in parallel starves the pool.
        var tools = KnownTools.Select(t => DescribeTool(t.Tool, t.VersionArgument, cancellationToken)).ToList();
        bool Installed(string tool) => tools.Any(t => t.Name == tool && t.IsInstalled);
        return new StorageHost
        {
            UnlockMethods = [
                .. Encryption.DmCryptMapping.IsAvailable && Installed("cryptsetup") ? new[] { UnlockMethod.DmCrypt } : [],
                .. File.Exists("/dev/fuse") && Installed("qemu-storage-daemon") ? new[] { UnlockMethod.Userspace } : []],
            DefaultEncryption = Encryption.VolumeProtector.DefaultFor(VolumeFormat.Raw),
            HostName = Environment.MachineName,
            KernelVersion = ReadOrEmpty("/proc/sys/kernel/osrelease").Trim(),
            IsRoot = context.IsRoot,
            KernelFileSystems = KernelFileSystems(ReadOrEmpty("/proc/filesystems")),
            Tools = tools,
            Features = new HostFeatures
            {
                Loop = File.Exists("/dev/loop-control"),
                DeviceMapper = Encryption.DmCryptMapping.IsAvailable,
                Fuse = File.Exists("/dev/fuse"),
                AoeDriver = HasAoeDriver(),
                RbdKernelModule = HasKernelModule("rbd"),
                QemuRbdDriver = HasQemuRbdDriver(),
                Reflink = context.Pools.DirectoryDefinitions().ToDictionary(p => p.Name, p => SupportsReflink(p.Path)),
            },
        };
    }

    public static bool HasAoeDriver() => Directory.Exists("/sys/module/aoe") || Directory.Exists("/dev/etherd");

    /// <summary>Whether the kernel has a module loaded or built in (/sys/module), or installed for this kernel (modules.dep, modules.builtin).</summary>
    public static bool HasKernelModule(string name)
    {
        if (Directory.Exists($"/sys/module/{name}"))
            return true;
        var modules = Path.Combine("/lib/modules", ReadOrEmpty("/proc/sys/kernel/osrelease").Trim());
        var file = $"/{name}.ko";
        return new[] { "modules.dep", "modules.builtin" }.Select(f => Path.Combine(modules, f)).Where(File.Exists)
            .SelectMany(File.ReadLines)
            .Any(line => line.Split(':')[0] is var module && (module.EndsWith(file, StringComparison.Ordinal) || module.Contains(file + ".", StringComparison.Ordinal)));
    }

    /// <summary>Whether qemu has its rbd block driver: the module block-rbd.so that Debian ships in qemu-block-extra.</summary>
    public static bool HasQemuRbdDriver() =>
        new[] { "/usr/lib/qemu", "/usr/lib64/qemu", "/usr/local/lib/qemu" }
            .Concat(Directory.Exists("/usr/lib") ? Directory.EnumerateDirectories("/usr/lib", "*-linux-gnu*").Select(d => Path.Combine(d, "qemu")) : [])
            .Any(d => File.Exists(Path.Combine(d, "block-rbd.so")));

    /// <summary>The filesystems the running kernel has registered (block-device ones, not nodev pseudo-filesystems).</summary>
    public static IReadOnlyList<string> KernelFileSystems(string procFilesystems) =>
        procFilesystems.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith("nodev", StringComparison.Ordinal))
            .Select(line => line.Trim())
            .Where(name => name.Length > 0)
            .ToList();

    /// <summary>Tries a FICLONE between two scratch files in the directory: the only exact test of reflink support.</summary>
    public static bool SupportsReflink(string directory)
    {
        var source = Path.Combine(directory, $".reflink-probe-{Environment.ProcessId}-a");
        var clone = Path.Combine(directory, $".reflink-probe-{Environment.ProcessId}-b");
        try
        {
            using var a = new FileStream(source, FileMode.Create, FileAccess.ReadWrite);
            a.Write(new byte[4096]);
            a.Flush();
            using var b = new FileStream(clone, FileMode.Create, FileAccess.ReadWrite);
            return Libc.ioctl(b.SafeFileHandle, Libc.FICLONE, a.SafeFileHandle) == 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        finally
        {
            File.Delete(source);
            File.Delete(clone);
        }
    }

    private ToolInfo DescribeTool(string tool, string versionArgument, CancellationToken cancellationToken)
    {
        var path = locator.TryLocate(tool);
        if (path is null)
            return new ToolInfo(tool, ToolLocator.PackageFor(tool), null, null);
        try
        {
            var result = context.Runner.Run(new ToolCommand(path, versionArgument) { Timeout = TimeSpan.FromSeconds(5) }, cancellationToken);
            var match = VersionPattern().Match(result.StandardOutput + "\n" + result.StandardError);
            return new ToolInfo(tool, ToolLocator.PackageFor(tool), path, match.Success ? match.Value : null);
        }
        catch (ToolFailedException)
        {
            return new ToolInfo(tool, ToolLocator.PackageFor(tool), path, null);
        }
    }

    private static string ReadOrEmpty(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
}

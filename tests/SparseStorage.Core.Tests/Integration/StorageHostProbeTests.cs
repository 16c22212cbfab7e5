using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Integration;

public sealed class StorageHostProbeTests : IDisposable
{
    private readonly TestPool pool = new();

    [IntegrationFact("qemu-img", "mkfs.xfs", "qemu-storage-daemon", "cryptsetup")]
    public void Reports_privileges_features_filesystems_and_tool_versions()
    {
        var host = new StorageHostProbe(pool.Context(), ToolLocator.Default).Probe();
        host.IsRoot.Should().BeTrue();
        host.Features.Loop.Should().BeTrue();
        host.Features.Fuse.Should().BeTrue("qcow2 volumes mount through FUSE, which the integration tests use");
        var deviceMapper = File.ReadAllText("/proc/misc").Contains(" device-mapper", StringComparison.Ordinal);
        host.Features.DeviceMapper.Should().Be(deviceMapper, "the driver registers its control device in /proc/misc; the /dev/mapper/control node alone proves nothing");
        host.UnlockMethods.Should().Contain(UnlockMethod.Userspace, "FUSE and qemu-storage-daemon are present");
        host.UnlockMethods.Contains(UnlockMethod.DmCrypt).Should().Be(deviceMapper);
        host.DefaultEncryption.Should().Be(deviceMapper ? EncryptionContainer.Luks2 : EncryptionContainer.Luks1);
        host.KernelFileSystems.Should().Contain("ext4").And.NotContain(f => f.StartsWith("nodev"));
        var qemu = host.Tools.Single(t => t.Name == "qemu-img");
        qemu.IsInstalled.Should().BeTrue();
        new ProcessRunner().RunChecked(new ToolCommand("qemu-img", "--version")).StandardOutput.Should().Contain(qemu.Version!);
        host.Tools.Should().Contain(t => t.Name == "mkfs.xfs" && t.Package == "xfsprogs" && t.Version != null);
        host.Features.Reflink.Should().ContainKey(TestPool.Name);
        Directory.EnumerateFileSystemEntries(pool.PoolPath).Should().BeEmpty("the reflink probe cleans up after itself");
    }

    [Fact]
    public void Kernel_filesystems_skip_pseudo_filesystems() =>
        StorageHostProbe.KernelFileSystems("nodev\tsysfs\nnodev\tproc\n\text4\n\txfs\nnodev\tfuse\n\tbtrfs\n")
            .Should().Equal("ext4", "xfs", "btrfs");

    public void Dispose() => pool.Dispose();
}

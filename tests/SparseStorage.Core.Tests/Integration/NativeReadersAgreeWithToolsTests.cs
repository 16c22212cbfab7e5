using System.Text.Json;
using SparseStorage.Core.Host;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>What Core reads from headers natively must agree with what the authoritative tools say about the same files.</summary>
public sealed class NativeReadersAgreeWithToolsTests : IDisposable
{
    private readonly TempDirectory scratch = new("sparse-readers");
    private readonly ProcessRunner runner = new();
    private readonly VolumeInspector inspector = new(new AttachmentState([], [], []));

    [IntegrationFact("qemu-img")]
    public void Qcow2_size_backing_file_and_snapshots_match_qemu_img_info()
    {
        var baseImage = scratch.Combine("base.qcow2");
        var overlay = scratch.Combine("overlay.qcow2");
        runner.RunChecked(new ToolCommand("qemu-img", "create", "-q", "-f", "qcow2", baseImage, "3G"));
        runner.RunChecked(new ToolCommand("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=131072", "-b", baseImage, "-F", "qcow2", overlay, "5G"));
        runner.RunChecked(new ToolCommand("qemu-img", "snapshot", "-c", "first", overlay));
        runner.RunChecked(new ToolCommand("qemu-img", "snapshot", "-c", "second", overlay));

        using var info = JsonDocument.Parse(runner.RunChecked(new ToolCommand("qemu-img", "info", "--output=json", overlay)).StandardOutput);
        var volume = inspector.Inspect(overlay, null);

        volume.Format.Should().Be(VolumeFormat.Qcow2);
        volume.SizeBytes.Should().Be(info.RootElement.GetProperty("virtual-size").GetInt64());
        volume.BackingFile.Should().Be(info.RootElement.GetProperty("backing-filename").GetString());
        volume.SnapshotCount.Should().Be(info.RootElement.GetProperty("snapshots").GetArrayLength()).And.Be(2);
        volume.AllocatedBytes.Should().Be(info.RootElement.GetProperty("actual-size").GetInt64());
    }

    [IntegrationTheory("blkid", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkswap")]
    [InlineData(FileSystemType.Ext2, "ext2")]
    [InlineData(FileSystemType.Ext3, "ext3")]
    [InlineData(FileSystemType.Ext4, "ext4")]
    [InlineData(FileSystemType.Xfs, "xfs")]
    [InlineData(FileSystemType.Btrfs, "btrfs")]
    [InlineData(FileSystemType.Swap, "swap")]
    public void Filesystem_type_and_label_match_blkid_in_raw_and_qcow2(FileSystemType type, string blkidType)
    {
        var raw = scratch.Combine($"{blkidType}.img");
        using (var file = File.Create(raw))
            file.SetLength(400L << 20);
        runner.RunChecked(FileSystemRules.MakeCommand(type, raw, "lbl" + blkidType));
        var blkid = runner.RunChecked(new ToolCommand("blkid", "-o", "export", "-p", raw)).StandardOutput;
        blkid.Should().Contain($"TYPE={blkidType}\n").And.Contain($"LABEL=lbl{blkidType}\n");

        var volume = inspector.Inspect(raw, null);
        volume.FileSystem.Should().Be(type);
        volume.Label.Should().Be("lbl" + blkidType);

        var qcow2 = scratch.Combine($"{blkidType}.qcow2");
        runner.RunChecked(new ToolCommand("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2));
        var inQcow2 = inspector.Inspect(qcow2, null);
        inQcow2.FileSystem.Should().Be(type, "the guest reader follows the qcow2 L1/L2 tables to the superblock");
        inQcow2.Label.Should().Be("lbl" + blkidType);
        inQcow2.SizeBytes.Should().Be(400L << 20);
    }

    [IntegrationTheory("cryptsetup")]
    [InlineData("luks1", 1)]
    [InlineData("luks2", 2)]
    public void Luks_header_made_by_cryptsetup_is_read_natively(string type, int version)
    {
        var image = scratch.Combine($"secret.{type}");
        using (var file = File.Create(image))
            file.SetLength(64L << 20);
        // Fixed iterations skip cryptsetup's PBKDF benchmark, which fails on a loaded machine; the passphrase goes through stdin.
        runner.RunChecked(new ToolCommand("cryptsetup", "luksFormat", "--batch-mode", "--type", type, "--pbkdf", "pbkdf2",
            "--pbkdf-force-iterations", "1000", "--key-file", "-", image) { StandardInput = "correct horse"u8.ToArray() });
        var uuid = runner.RunChecked(new ToolCommand("cryptsetup", "luksUUID", image)).StandardOutput.Trim();

        var volume = inspector.Inspect(image, null);
        volume.Format.Should().Be(VolumeFormat.Luks);
        volume.Encryption.Should().Be($"LUKS{version} aes-xts-plain64");
        var header = Formats.LuksHeader.Parse(File.ReadAllBytes(image).AsSpan(0, Formats.LuksHeader.ReadSize));
        header.Uuid.Should().Be(uuid);
        header.ActiveKeySlots.Should().Be(1);
        volume.SizeBytes.Should().Be((64L << 20) - header.PayloadOffset);
    }

    [IntegrationFact]
    public void Allocated_bytes_follow_the_blocks_written_not_the_size()
    {
        var path = scratch.Combine("thin.img");
        using (var file = File.Create(path))
        {
            file.SetLength(2L << 40);
            file.Position = 1L << 40;
            file.Write(new byte[1 << 20].Select(_ => (byte)7).ToArray());
        }
        var volume = inspector.Inspect(path, null);
        volume.SizeBytes.Should().Be(2L << 40);
        volume.AllocatedBytes.Should().BeInRange(1L << 20, 2L << 20);
    }

    public void Dispose() => scratch.Dispose();
}

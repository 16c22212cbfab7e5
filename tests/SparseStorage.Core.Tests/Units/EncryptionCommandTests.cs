using System.Text;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Tests.Units;

/// <summary>Where keys go in the command lines: cryptsetup reads them on stdin, qemu from a secret file named by path only.</summary>
public sealed class EncryptionCommandTests : IDisposable
{
    private const string Secret = "s3cret passphrase, with a comma";
    private readonly VolumeKey key = VolumeKey.FromPassphrase(Secret);

    [Fact]
    public void Cryptsetup_takes_every_key_on_standard_input_and_never_in_an_argument()
    {
        var commands = new[]
        {
            CryptSetup.Format("/p/v.img", EncryptionContainer.Luks1, key, 2000),
            CryptSetup.RemoveKey("/p/v.img", key),
            CryptSetup.TestKey("/p/v.img", key),
            CryptSetup.Open("/p/v.img", "sparsestorage-0123", key, readOnly: true, allowDiscards: true),
        };
        foreach (var command in commands)
        {
            command.Tool.Should().Be("cryptsetup");
            command.Arguments.Should().ContainInConsecutiveOrder("--key-file", "-");
            Encoding.UTF8.GetString(command.StandardInput!.Value.Span).Should().Be(Secret);
            string.Join(' ', command.Arguments).Should().NotContain("s3cret");
        }
        commands[0].Arguments.Should().ContainInConsecutiveOrder("--type", "luks1").And.ContainInConsecutiveOrder("--iter-time", "2000");
        commands[3].Arguments.Should().Contain(["--readonly", "--allow-discards"]).And.EndWith(["/p/v.img", "sparsestorage-0123"]);
        CryptSetup.Format("/p/v.img", EncryptionContainer.Luks2, key, 2000).Arguments.Should().ContainInConsecutiveOrder("--type", "luks2");
    }

    [Fact]
    public void Qemu_gets_a_secret_object_naming_only_the_file()
    {
        using var secret = SecretFile.Placeholder();
        var encrypt = QemuCrypto.Encrypt("/p/a,b.qcow2", "/p/.tmp", 65536, secret, 100);
        encrypt.Arguments.Should().ContainInConsecutiveOrder("--object", "secret,id=key0,file=<secret file>");
        encrypt.Arguments.Should().Contain("encrypt.format=luks,encrypt.key-secret=key0,encrypt.iter-time=100,cluster_size=65536");
        QemuCrypto.Compare("/p/a,b.qcow2", "/p/e.qcow2", secret).Arguments.Should().Contain("driver=qcow2,file.filename=/p/a,,b.qcow2", "qemu option syntax doubles commas");
        QemuCrypto.Compare("/p/a.qcow2", "/p/e.qcow2", secret).SuccessExitCodes.Should().BeEquivalentTo([0, 1]);
        QemuCrypto.RemoveKey("/p/e.qcow2", secret).Arguments.Should().Contain("encrypt.state=inactive,encrypt.old-secret=key0");
    }

    [Fact]
    public void A_secret_file_is_private_holds_exactly_the_key_and_is_gone_after_dispose()
    {
        string path;
        using (var secret = new SecretFile(key))
        {
            path = secret.Path;
            path.Should().StartWith("/dev/shm/sparsestorage-");
            File.ReadAllText(path).Should().Be(Secret);
            File.GetUnixFileMode(path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.GetUnixFileMode(Path.GetDirectoryName(path)!).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        File.Exists(path).Should().BeFalse();
        Directory.Exists(Path.GetDirectoryName(path)).Should().BeFalse();
    }

    [Fact]
    public void The_fuse_export_of_an_encrypted_volume_has_discards_off_unless_asked_and_the_key_only_as_a_file()
    {
        using var secret = SecretFile.Placeholder();
        var exporter = new FuseExporter(new Support.RecordingRunner(), new RuntimePaths("/run/x"));
        var locked = exporter.StartCommand("/p/v.img", new FuseExportOptions(ExportLayer.Luks, ReadOnly: false, Discards: false, secret));
        string.Join(' ', locked.Arguments).Should().Contain("driver=luks,node-name=disk0,file=file0,discard=ignore,key-secret=key0").And.NotContain("discard=unmap");
        var qcow2 = exporter.StartCommand("/p/v.qcow2", new FuseExportOptions(ExportLayer.Qcow2, ReadOnly: true, Discards: true, secret));
        string.Join(' ', qcow2.Arguments).Should().Contain("encrypt.format=luks,encrypt.key-secret=key0").And.Contain("discard=unmap").And.Contain("read-only=on");
    }

    [Fact]
    public void An_encrypted_ceph_volume_is_exported_by_luks_on_rbd_in_one_daemon_with_both_keys_only_as_files()
    {
        using var cephKey = SecretFile.Placeholder();
        using var passphrase = SecretFile.Placeholder();
        var exporter = new FuseExporter(new Support.RecordingRunner(), new RuntimePaths("/run/x"));
        var options = new FuseExportOptions(ExportLayer.RbdLuks, ReadOnly: false, Discards: false, cephKey)
        {
            RbdBlockdev = "driver=rbd,pool=rbd,image=vault,conf=/etc/ceph/ceph.conf,user=sparse",
            Passphrase = passphrase,
        };

        var arguments = exporter.StartCommand("rbd:rbd/vault", options).Arguments.ToList();

        arguments.Should().ContainInOrder("--object", "secret,id=key0,file=<secret file>,format=base64", "--object", "secret,id=key1,file=<secret file>");
        arguments.Should().Contain("driver=rbd,pool=rbd,image=vault,conf=/etc/ceph/ceph.conf,user=sparse,node-name=rbd0,discard=ignore,key-secret=key0")
            .And.Contain("driver=luks,node-name=disk0,file=rbd0,discard=ignore,key-secret=key1");
        options.Decrypts.Should().BeTrue("the export is the volume's plaintext: it counts as unlocked");
        (options with { Layer = ExportLayer.Rbd, Passphrase = null }).Decrypts.Should().BeFalse("a plain rbd export carries only the Ceph key");
    }

    [Fact]
    public void Keys_describe_themselves_without_their_content_and_are_zeroed_on_dispose()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "key-file-content");
        using var fromFile = VolumeKey.FromFile(file);
        VolumeKey.Describe([key, fromFile]).Should().Be($"the passphrase or key file {file}");
        var secret = fromFile.Secret;
        fromFile.Dispose();
        secret.ToArray().Should().OnlyContain(b => b == 0);
        File.Delete(file);
        var empty = () => VolumeKey.FromPassphrase("");
        empty.Should().Throw<InvalidStorageArgumentException>();
        VolumeKey.FromPassphrase("héllo").IsQemuCompatible.Should().BeTrue();
    }

    [Fact]
    public void A_volume_unlocked_through_dm_crypt_is_found_with_its_mounts_on_the_mapper_device()
    {
        var mapped = DmCryptMapping.DevicePathFor("/p/v.img");
        var attachments = new AttachmentState(
            [new LoopDevice("/dev/loop7", "/p/v.img", "7:7", false)],
            [new MountEntry("253:0", "/srv/v", "ext4", mapped, false)],
            [],
            [mapped]);

        var attachment = attachments.Of("/p/v.img");

        attachment.MappedDevice.Should().Be(mapped);
        attachment.PlaintextPath.Should().Be(mapped);
        attachment.MountPoints.Should().Equal("/srv/v");
        attachment.Describe().Should().Contain("/srv/v");
        mapped.Should().MatchRegex("^/dev/mapper/sparsestorage-[0-9a-f]{16}$");
    }

    public void Dispose() => key.Dispose();
}

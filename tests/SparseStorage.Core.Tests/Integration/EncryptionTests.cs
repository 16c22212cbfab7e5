using System.Text;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Snapshots;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Encryption at rest on real images: cryptsetup writes LUKS headers, qemu-storage-daemon decrypts in userspace and
/// exports the plaintext through FUSE, a loop device and mount sit on top. Keys are tried, rotated and destroyed for real.
/// </summary>
[Collection(SecretFileCollection.Name)]
public sealed class EncryptionTests : IDisposable
{
    private const string Passphrase = "correct horse battery staple 7431";
    private const string Marker = "PLAINTEXT-MARKER-5d41402abc4b2a76";
    private readonly TestPool pool = new();
    private readonly SpyRunner runner;
    private readonly StorageContext context;
    private readonly string keyFilePath;
    private readonly string mountPoint;

    public EncryptionTests()
    {
        runner = new SpyRunner(new ProcessRunner());
        context = pool.Context(runner);
        keyFilePath = pool.Combine("tenant.key");
        File.WriteAllText(keyFilePath, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48)) + "\n");
        mountPoint = pool.Combine("mnt");
    }

    private static VolumeKey PassphraseKey(string text = Passphrase) => VolumeKey.FromPassphrase(text);
    private VolumeKey FileKey() => VolumeKey.FromFile(keyFilePath);

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    [InlineData(VolumeFormat.Raw, "LUKS1 aes-xts-plain64")]
    [InlineData(VolumeFormat.Qcow2, "qcow2 LUKS1 aes-xts-plain64")]
    public void Protecting_a_volume_with_files_keeps_them_readable_after_unlock_and_leaves_no_plaintext_in_the_image(VolumeFormat format, string encryption)
    {
        var volume = pool.CreateVolume(context, "tenant", ByteSize.Parse("1GiB"), format);
        var written = WriteFiles(volume);
        var allocatedBefore = new VolumeCatalog(context).Get(volume.Path).AllocatedBytes;
        using var key = PassphraseKey();

        var protectedVolume = Encrypting.Protect(context, volume, [key]);

        protectedVolume.Encryption.Should().Be(encryption);
        protectedVolume.KeySlotCount.Should().Be(1);
        protectedVolume.IsUnlocked.Should().BeFalse();
        protectedVolume.SizeBytes.Should().Be(volume.SizeBytes);
        protectedVolume.AllocatedBytes.Should().BeLessThan(allocatedBefore + (4L << 20), "only allocated extents are encrypted; the image stays thin");
        ImageContains(volume.Path, Marker).Should().BeFalse("the marker was written in plaintext before protection");
        Directory.GetFiles(pool.PoolPath, ".*partial*").Should().BeEmpty();

        var mounted = new VolumeMounter(context).Mount(protectedVolume, mountPoint, readOnly: false, [key], allowDiscards: false);
        mounted.IsUnlocked.Should().BeTrue();
        mounted.FileSystem.Should().Be(FileSystemType.Ext4);
        Files.Hash(mountPoint, written.Keys).Should().Equal(written);
        File.ReadAllText(Path.Combine(mountPoint, "marker.txt")).Should().Be(Marker);
        var dismounted = new VolumeMounter(context).Dismount(mounted);
        dismounted.IsUnlocked.Should().BeFalse("the mount unlocked it, so the dismount locks it again");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4", "e2fsck")]
    public void A_new_empty_volume_protected_then_filled_stays_consistent_and_unprotects_to_the_same_files()
    {
        var volume = pool.CreateVolume(context, "fresh", ByteSize.Parse("512MiB"));
        using var key = FileKey();
        var protectedVolume = Encrypting.Protect(context, volume, [key]);
        Encrypting.Unlock(context, protectedVolume, [key]);
        var mounted = new VolumeMounter(context).Mount(protectedVolume, mountPoint, readOnly: false);
        var written = Files.WriteSample(mountPoint, count: 8);
        var stillUnlocked = new VolumeMounter(context).Dismount(mounted);
        stillUnlocked.IsUnlocked.Should().BeTrue("Unlock-Volume opened it, so only Lock-Volume closes it");
        var view = context.ReadAttachments().Of(volume.Path).PlaintextPath!;
        runner.Run(new ToolCommand("e2fsck", "-f", "-n", view)).ExitCode.Should().Be(0, "the filesystem written through the encrypted view is clean");
        Encrypting.Lock(context, stillUnlocked);

        var plain = Encrypting.Unprotect(context, new VolumeCatalog(context).Get(volume.Path), [key]);

        plain.Encryption.Should().Be("None");
        plain.Format.Should().Be(VolumeFormat.Raw);
        plain.FileSystem.Should().Be(FileSystemType.Ext4);
        plain.AllocatedBytes.Should().BeLessThan(protectedVolume.AllocatedBytes + (40L << 20));
        new VolumeMounter(context).Mount(plain, mountPoint, readOnly: true);
        Files.Hash(mountPoint, written.Keys).Should().Equal(written);
        new VolumeMounter(context).Dismount(plain);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-storage-daemon")]
    [InlineData(VolumeFormat.Raw)]
    [InlineData(VolumeFormat.Qcow2)]
    public void A_wrong_passphrase_or_key_file_fails_cleanly_and_changes_nothing(VolumeFormat format)
    {
        var volume = Protected("locked", format);
        var headerBefore = HeadHash(volume.Path);
        var wrongFile = pool.Combine("wrong.key");
        File.WriteAllText(wrongFile, "not the key");
        using var wrongPassphrase = PassphraseKey("Tr0ub4dor&3");
        using var wrongKeyFile = VolumeKey.FromFile(wrongFile);

        var unlock = () => Encrypting.Unlock(context, volume, [wrongPassphrase, wrongKeyFile]);

        var error = unlock.Should().Throw<WrongKeyException>().Which;
        error.Message.Should().StartWith("None of the keys (").And.Contain("the passphrase").And.Contain(wrongFile)
            .And.NotContain("Tr0ub4dor").And.NotContain("not the key");
        new VolumeCatalog(context).Get(volume.Path).IsUnlocked.Should().BeFalse();
        HeadHash(volume.Path).Should().Be(headerBefore);
        Directory.GetFiles(pool.PoolPath, ".*partial*").Should().BeEmpty();
        var mount = () => new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false, [wrongPassphrase], false);
        mount.Should().Throw<WrongKeyException>().WithMessage($"The key (the passphrase) does not open {volume.Path}; nothing was changed.");
        Directory.Exists(mountPoint).Should().BeFalse("a failed mount removes the mount point it created");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-io", "qemu-storage-daemon")]
    [InlineData(VolumeFormat.Raw)]
    [InlineData(VolumeFormat.Qcow2)]
    public void Keys_rotate_add_a_key_file_unlock_with_it_remove_the_passphrase_and_the_old_passphrase_no_longer_opens(VolumeFormat format)
    {
        var volume = Protected("rotate", format);
        using var passphrase = PassphraseKey();
        using var keyFile = FileKey();
        Encrypting.AddKey(context, volume, [passphrase], keyFile).KeySlotCount.Should().Be(2);
        Encrypting.Unlock(context, volume, [keyFile], new UnlockOptions(ReadOnly: true)).IsUnlocked.Should().BeTrue();
        Encrypting.Lock(context, volume);
        Encrypting.RemoveKey(context, volume, passphrase).KeySlotCount.Should().Be(1);

        var oldKey = () => Encrypting.Unlock(context, volume, [passphrase]);
        oldKey.Should().Throw<WrongKeyException>();
        var lastKey = () => Encrypting.RemoveKey(context, volume, keyFile);
        lastKey.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("LastKey");
        Encrypting.Unlock(context, volume, [keyFile]).IsUnlocked.Should().BeTrue();
        Encrypting.Lock(context, volume);
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void Lock_refuses_a_mounted_volume_without_dismount_and_with_it_leaves_no_fuse_mount_loop_device_or_daemon()
    {
        var volume = Protected("lockme", VolumeFormat.Raw);
        using var key = PassphraseKey();
        new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false, [key], false);

        var withoutDismount = () => Encrypting.Lock(context, volume);
        withoutDismount.Should().Throw<VolumeInUseException>().Which.Message.Should().Contain(mountPoint);

        var locked = Encrypting.Lock(context, volume, dismount: true);
        locked.IsUnlocked.Should().BeFalse();
        locked.IsAttached.Should().BeFalse();
        locked.IsMounted.Should().BeFalse();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-img", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void No_secret_reaches_a_childs_arguments_or_environment_and_no_secret_file_outlives_the_operation()
    {
        var secretFilesBefore = SecretDirectories();
        var keyFileBytes = File.ReadAllBytes(keyFilePath);
        var volume = pool.CreateVolume(context, "secrets", ByteSize.Parse("256MiB"));
        using var passphrase = PassphraseKey();
        using var keyFile = FileKey();
        Encrypting.Protect(context, volume, [passphrase, keyFile]);
        var unlocked = Encrypting.Unlock(context, volume, [keyFile]);
        var daemon = context.ReadAttachments().Of(volume.Path).FuseExport!.ProcessId;

        foreach (var name in new[] { "cmdline", "environ" })
        {
            var bytes = File.ReadAllBytes($"/proc/{daemon}/{name}");
            Contains(bytes, Encoding.UTF8.GetBytes(Passphrase)).Should().BeFalse($"the daemon's {name} must not hold the passphrase");
            Contains(bytes, keyFileBytes).Should().BeFalse($"the daemon's {name} must not hold the key");
        }
        SecretDirectories().Except(secretFilesBefore).Should().BeEmpty("the daemon's secret file is deleted once it has started");
        Encrypting.Lock(context, unlocked, dismount: true);

        runner.Commands.Should().Contain(c => c.Tool == "cryptsetup" && c.StandardInput != null);
        foreach (var command in runner.Commands)
        {
            var arguments = Encoding.UTF8.GetBytes(string.Join('\0', command.Arguments));
            Contains(arguments, Encoding.UTF8.GetBytes(Passphrase)).Should().BeFalse(command.ToString());
            Contains(arguments, keyFileBytes).Should().BeFalse(command.ToString());
        }
        Environment.GetEnvironmentVariables().Values.OfType<string>().Should().NotContain(v => v.Contains(Passphrase));
        SecretDirectories().Except(secretFilesBefore).Should().BeEmpty("the sweep may remove other processes' leftovers meanwhile; none may be added");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-io", "qemu-storage-daemon")]
    [InlineData(VolumeFormat.Raw)]
    [InlineData(VolumeFormat.Qcow2)]
    public void Remove_with_wipe_destroys_the_key_slots_before_the_file_goes(VolumeFormat format)
    {
        var volume = Protected("erase", format);
        var region = ContainerHeader.Read(volume.Path)!;
        using var key = PassphraseKey();
        using (var secret = new SecretFile(key))
            runner.Run(format == VolumeFormat.Raw ? CryptSetup.TestKey(volume.Path, key) : QemuCrypto.TestKey(volume.Path, secret)).ExitCode.Should().Be(0, "the key opens the volume before it is removed");
        // A descriptor held open keeps the inode readable after the unlink (a hard link would make it no volume at all).
        using var held = Native.Libc.Open(volume.Path, Native.Libc.O_RDONLY | Native.Libc.O_CLOEXEC, 0);
        var survivor = $"/proc/{Environment.ProcessId}/fd/{held.DangerousGetHandle()}";

        new VolumeRemover(context).Remove(volume, wipe: true);

        File.Exists(volume.Path).Should().BeFalse();
        var slots = new byte[region.RegionLength];
        RandomAccess.Read(held, slots, region.RegionOffset);
        LuksHeader.HasMagic(slots).Should().BeFalse("the LUKS header and key slots were overwritten in the file itself");
        slots.AsSpan(4096).ContainsAnyExcept((byte)0).Should().BeTrue("key material is overwritten with random bytes, not left as it was or zeroed");
        using (var secret = new SecretFile(key))
            runner.Run(format == VolumeFormat.Raw ? CryptSetup.TestKey(survivor, key) : QemuCrypto.TestKey(survivor, secret)).ExitCode.Should().NotBe(0);
    }

    [IntegrationFact("cryptsetup", "qemu-img", "losetup", "mount", "mkfs.ext4")]
    public void Protect_refuses_mounted_encrypted_and_snapshotted_volumes_and_what_if_changes_nothing()
    {
        var volume = pool.CreateVolume(context, "refuse", ByteSize.Parse("256MiB"));
        using var key = PassphraseKey();
        using var keyFile = FileKey();
        var secretFilesBefore = SecretDirectories();
        runner.Commands.Clear();

        var plan = new VolumeProtector(context).Plan(new ProtectVolumeRequest(volume, [key, keyFile], IterationTimeMilliseconds: 10)).Steps;

        plan.Should().Contain(s => s.StartsWith("cryptsetup luksFormat --type luks1", StringComparison.Ordinal));
        plan.Should().Contain(s => s.Contains("luksAddKey", StringComparison.Ordinal));
        plan.Should().NotContain(s => s.Contains(Passphrase, StringComparison.Ordinal) || s.Contains(File.ReadAllText(keyFilePath).Trim(), StringComparison.Ordinal));
        Directory.GetFiles(pool.PoolPath, "*", SearchOption.AllDirectories).Should().Equal(volume.Path);
        SecretDirectories().Except(secretFilesBefore).Should().BeEmpty("the sweep may remove other processes' leftovers meanwhile; none may be added");
        runner.Commands.Should().BeEmpty();

        var mounted = new VolumeMounter(context).Mount(volume, mountPoint, readOnly: false);
        var whileMounted = () => Encrypting.Protect(context, mounted, [key]);
        whileMounted.Should().Throw<VolumeInUseException>();
        new VolumeMounter(context).Dismount(mounted);

        new SnapshotService(context).Create(volume, "plain");
        var withSnapshot = () => Encrypting.Protect(context, volume, [key]);
        withSnapshot.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("VolumeHasSnapshots");
        new SnapshotService(context).Remove(new SnapshotService(context).List(new VolumeCatalog(context).Get(volume.Path)).Single());

        Encrypting.Protect(context, volume, [key]);
        var twice = () => Encrypting.Protect(context, new VolumeCatalog(context).Get(volume.Path), [key]);
        twice.Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("AlreadyEncrypted");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup")]
    public void A_binary_key_file_is_refused_before_anything_changes_since_qemu_takes_only_text_keys()
    {
        var volume = pool.CreateVolume(context, "binary", ByteSize.Parse("64MiB"), fileSystem: FileSystemType.None);
        var binary = pool.Combine("binary.key");
        File.WriteAllBytes(binary, [0x00, 0xff, 0xfe, 0x41]);
        using var key = VolumeKey.FromFile(binary);
        runner.Commands.Clear();

        var protect = () => Encrypting.Protect(context, volume, [key]);

        protect.Should().Throw<InvalidStorageArgumentException>().Which.Message.Should().Contain(binary).And.Contain("UTF-8");
        runner.Commands.Should().BeEmpty();
        new VolumeCatalog(context).Get(volume.Path).Encryption.Should().Be("None");
    }

    [IntegrationTheory("cryptsetup", "qemu-img")]
    [InlineData(VolumeFormat.Raw)]
    [InlineData(VolumeFormat.Qcow2)]
    public void The_container_cipher_and_key_slots_are_read_natively_as_cryptsetup_and_qemu_img_report_them(VolumeFormat format)
    {
        var volume = Protected("native", format);
        using var key = PassphraseKey();
        using var keyFile = FileKey();
        volume = Encrypting.AddKey(context, volume, [key], keyFile);

        var header = ContainerHeader.Read(volume.Path)!;

        volume.KeySlotCount.Should().Be(2);
        if (format == VolumeFormat.Raw)
        {
            var dump = runner.Run(new ToolCommand("cryptsetup", "luksDump", volume.Path)).StandardOutput;
            dump.Should().Contain($"UUID:          \t{header.Luks.Uuid}").And.Contain("Cipher mode:   \txts-plain64");
            System.Text.RegularExpressions.Regex.Matches(dump, "Key Slot \\d: ENABLED").Count.Should().Be(header.Luks.ActiveKeySlots);
            volume.SizeBytes.Should().Be(new FileInfo(volume.Path).Length - header.Luks.PayloadOffset);
        }
        else
        {
            var info = System.Text.Json.JsonDocument.Parse(runner.Run(new ToolCommand("qemu-img", "info", "--output=json", volume.Path)).StandardOutput);
            var encrypt = info.RootElement.GetProperty("format-specific").GetProperty("data").GetProperty("encrypt");
            encrypt.GetProperty("uuid").GetString().Should().Be(header.Luks.Uuid);
            encrypt.GetProperty("slots").EnumerateArray().Count(s => s.GetProperty("active").GetBoolean()).Should().Be(header.Luks.ActiveKeySlots);
            $"{encrypt.GetProperty("cipher-alg").GetString()}".Should().Be("aes-256");
        }
        volume.Encryption.Should().EndWith(header.Luks.Cipher).And.Contain("LUKS1");
    }

    [DeviceMapperFact("cryptsetup", "losetup", "mount", "mkfs.ext4")]
    public void Where_device_mapper_exists_a_luks2_volume_mounts_through_dm_crypt_and_lock_closes_the_mapping()
    {
        var volume = pool.CreateVolume(context, "mapped", ByteSize.Parse("256MiB"));
        using var key = PassphraseKey();
        var protectedVolume = Encrypting.Protect(context, volume, [key]);
        protectedVolume.Encryption.Should().StartWith("LUKS2");

        var mounted = new VolumeMounter(context).Mount(protectedVolume, mountPoint, readOnly: false, [key], false);
        var written = Files.WriteSample(mountPoint);
        context.ReadAttachments().Of(volume.Path).MappedDevice.Should().Be(DmCryptMapping.DevicePathFor(volume.Path));
        Encrypting.Lock(context, mounted, dismount: true);
        File.Exists(DmCryptMapping.DevicePathFor(volume.Path)).Should().BeFalse();

        new VolumeMounter(context).Mount(new VolumeCatalog(context).Get(volume.Path), mountPoint, readOnly: true, [key], false);
        Files.Hash(mountPoint, written.Keys).Should().Equal(written);
        Encrypting.Lock(context, new VolumeCatalog(context).Get(volume.Path), dismount: true);
        pool.AssertNothingLeftBehind();
    }

    private SparseVolume Protected(string name, VolumeFormat format)
    {
        var volume = pool.CreateVolume(context, name, ByteSize.Parse("256MiB"), format);
        using var key = PassphraseKey();
        return Encrypting.Protect(context, volume, [key]);
    }

    private Dictionary<string, string> WriteFiles(SparseVolume volume)
    {
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, mountPoint, readOnly: false);
        var written = Files.WriteSample(mountPoint);
        File.WriteAllText(Path.Combine(mountPoint, "marker.txt"), Marker);
        File.WriteAllBytes(Path.Combine(mountPoint, "zeros.bin"), new byte[8 << 20]);
        written["zeros.bin"] = Files.Hash(mountPoint, ["zeros.bin"])["zeros.bin"];
        mounter.Dismount(mounted);
        return written;
    }

    private static bool ImageContains(string path, string text)
    {
        var needle = Encoding.ASCII.GetBytes(text);
        using var image = File.OpenRead(path);
        var buffer = new byte[(8 << 20) + needle.Length];
        long offset = 0;
        while (true)
        {
            var read = RandomAccess.Read(image.SafeFileHandle, buffer, offset);
            if (read <= 0)
                return false;
            if (buffer.AsSpan(0, read).IndexOf(needle) >= 0)
                return true;
            offset += read - needle.Length;
            if (read < buffer.Length)
                return false;
        }
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    private static string HeadHash(string path)
    {
        var head = new byte[1 << 20];
        using var image = File.OpenRead(path);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(head.AsSpan(0, image.Read(head))));
    }

    /// <summary>This process's secret directories: the PowerShell suite, run beside this one, makes its own.</summary>
    private static string[] SecretDirectories() => Directory.GetDirectories("/dev/shm", $"sparsestorage-secret-{Environment.ProcessId}-*");

    public void Dispose() => pool.Dispose();
}

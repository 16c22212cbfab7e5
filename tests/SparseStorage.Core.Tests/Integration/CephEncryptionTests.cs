using System.Security.Cryptography;
using System.Text;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Encryption at rest of Ceph volumes against a real cluster (<see cref="CephLab"/>): a LUKS1 container in the RBD
/// image, opened by qemu's luks driver stacked on its rbd driver in one qemu-storage-daemon, exported over FUSE.
/// </summary>
[Collection(CephLabCollection.Name)]
public sealed class CephEncryptionTests(CephLab lab) : IClassFixture<CephLab>, IDisposable
{
    private const string PoolName = "vault";
    private readonly TempDirectory root = new("sstest-ccrypt");
    private readonly List<string> applied = [];
    private readonly List<string> seenCommandLines = [];
    private StorageContext? context;

    private StorageContext Context()
    {
        if (context is not null)
            return context;
        context = CephLab.Context(root, journal: new StepJournal(step =>
        {
            applied.Add(step);
            seenCommandLines.AddRange(LiveProcesses.CommandLinesMentioning("qemu-storage-daemon"));
        }));
        var registration = new CephPoolRegistration(context);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(PoolName, lab.FreshNamespace())));
        return context;
    }

    private string KeyFile(string name, out string text)
    {
        text = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        var path = root.Combine(name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>Applies a plan and asserts it ran exactly its planned steps; returns the result.</summary>
    private T ApplyAsPlanned<TPlan, T>(TPlan plan, Func<TPlan, T> apply) where TPlan : OperationPlan
    {
        applied.Clear();
        var result = apply(plan);
        applied.Should().HaveCount(plan.Steps.Count, "Apply runs the planned steps: {0}", string.Join(" | ", plan.Steps));
        applied.Zip(plan.Steps).Should().OnlyContain(pair => Matches(pair.Second, pair.First), "each applied step is the planned one");
        return result;
    }

    private static bool Matches(string planned, string step) =>
        System.Text.RegularExpressions.Regex.IsMatch(step,
            "^" + string.Join(".+", planned.Split(['<', '>']).Where((_, i) => i % 2 == 0).Select(System.Text.RegularExpressions.Regex.Escape)) + "$");

    private byte[] AdminExport(SparseVolume volume)
    {
        var file = root.Combine($"export-{Guid.NewGuid():N}");
        var (ns, image) = (volume.Path.Split('/')[1], volume.Path.Split('/')[2]);
        lab.Rbd("export", "--no-progress", "--pool", CephLab.Pool, "--namespace", ns, "--image", image, file);
        var bytes = File.ReadAllBytes(file);
        File.Delete(file);
        return bytes;
    }

    private string CephKey() =>
        File.ReadLines(lab.ClientKeyring).Select(l => l.Trim()).First(l => l.StartsWith("key", StringComparison.Ordinal)).Split('=', 2)[1].Trim();

    [CephFact]
    public void A_protected_volume_keeps_its_data_hides_it_at_rest_and_opens_only_with_its_keys()
    {
        var storage = Context();
        var creation = new CephVolumeCreation(storage);
        var volume = creation.Apply(creation.Plan(new NewVolumeRequest { Name = "secret", Pool = PoolName, Size = ByteSize.FromMiB(64), FileSystem = FileSystemType.Ext4 }));
        var canary = "CANARY-" + Guid.NewGuid().ToString("N");
        var content = string.Concat(Enumerable.Repeat(canary + "\n", 4096));
        var mountPoint = root.Combine("mnt");
        var mounting = new CephVolumeMounting(storage);
        mounting.Apply(mounting.Plan(new MountCephVolumeRequest(volume, mountPoint)));
        File.WriteAllText(Path.Combine(mountPoint, "data.txt"), content);
        mounting.Apply(mounting.Plan(new DismountVolumeRequest(volume)));
        Encoding.ASCII.GetString(AdminExport(volume)).Should().Contain(canary, "the plain image holds the canary (the check below can fail)");
        using var first = VolumeKey.FromFile(KeyFile("first.key", out var firstText));
        using var second = VolumeKey.FromFile(KeyFile("second.key", out var secondText));
        using var wrong = VolumeKey.FromFile(KeyFile("wrong.key", out _));
        var protection = new CephVolumeProtection(storage);
        var unlocking = new CephVolumeUnlocking(storage);
        var keys = new CephVolumeKeys(storage);
        var errors = new List<string>();
        var allSteps = new List<string>();

        var protectPlan = protection.Plan(new ProtectVolumeRequest(volume, [first], IterationTimeMilliseconds: 100));
        var protectedVolume = ApplyAsPlanned(protectPlan, p => protection.Apply(p));
        allSteps.AddRange(protectPlan.Steps);
        var atRest = Encoding.ASCII.GetString(AdminExport(volume));
        var wrongKey = Record.Exception(() => unlocking.Plan(new UnlockVolumeRequest(volume, [wrong], new UnlockOptions())));
        errors.Add(wrongKey?.Message ?? "");
        var unlockPlan = unlocking.Plan(new UnlockVolumeRequest(volume, [first], new UnlockOptions()));
        var unlocked = ApplyAsPlanned(unlockPlan, p => unlocking.Apply(p));
        allSteps.AddRange(unlockPlan.Steps);
        var whileUnlocked = LiveProcesses.CommandLinesMentioning(volume.Path.Split('/')[2]);
        var rekeyWhileUnlocked = Record.Exception(() => new CephVolumeKeys(storage).Plan(new AddVolumeKeyRequest(volume, [first], [second], 100)));
        var lockPlan = unlocking.Plan(new LockVolumeRequest(volume));
        var locked = ApplyAsPlanned(lockPlan, p => unlocking.Apply(p));
        allSteps.AddRange(lockPlan.Steps);
        var addPlan = keys.Plan(new AddVolumeKeyRequest(volume, [first], [second], 100));
        var withTwoKeys = ApplyAsPlanned(addPlan, p => keys.Apply(p));
        var removePlan = keys.Plan(new RemoveVolumeKeyRequest(volume, [first]));
        var withSecondOnly = ApplyAsPlanned(removePlan, p => keys.Apply(p));
        allSteps.AddRange(addPlan.Steps.Concat(removePlan.Steps));
        var removedKey = Record.Exception(() => unlocking.Plan(new UnlockVolumeRequest(volume, [first], new UnlockOptions())));
        errors.Add(removedKey?.Message ?? "");
        var mountPlan = mounting.Plan(new MountCephVolumeRequest(volume, mountPoint, Keys: [second]));
        var mounted = ApplyAsPlanned(mountPlan, p => mounting.Apply(p));
        allSteps.AddRange(mountPlan.Steps);
        var readBack = File.ReadAllText(Path.Combine(mountPoint, "data.txt"));
        var dismountPlan = mounting.Plan(new DismountVolumeRequest(volume));
        ApplyAsPlanned(dismountPlan, p => mounting.Apply(p));
        var unprotectPlan = protection.Plan(new UnprotectVolumeRequest(volume, [second]));
        var plainAgain = ApplyAsPlanned(unprotectPlan, p => protection.Apply(p));
        allSteps.AddRange(unprotectPlan.Steps);

        protectedVolume.Encryption.Should().StartWith("LUKS1");
        protectedVolume.Format.Should().Be(VolumeFormat.Luks);
        protectedVolume.SizeBytes.Should().Be(volume.SizeBytes, "the plaintext keeps the volume's size");
        protectedVolume.KeySlotCount.Should().Be(1);
        atRest.Should().StartWith("LUKS").And.NotContain(canary, "the image holds only ciphertext");
        wrongKey.Should().BeOfType<WrongKeyException>();
        unlocked.IsUnlocked.Should().BeTrue();
        unlocked.FileSystem.Should().Be(FileSystemType.Ext4, "the filesystem is read through the plaintext export");
        whileUnlocked.Should().ContainSingle(l => l.Contains("driver=luks", StringComparison.Ordinal) && l.Contains("driver=rbd", StringComparison.Ordinal),
            "one daemon stacks luks on rbd");
        rekeyWhileUnlocked.Should().BeOfType<VolumeInUseException>("key slots change only on a locked volume");
        locked.IsUnlocked.Should().BeFalse();
        withTwoKeys.KeySlotCount.Should().Be(2);
        withSecondOnly.KeySlotCount.Should().Be(1);
        removedKey.Should().BeOfType<WrongKeyException>("the removed key no longer opens the volume");
        mounted.IsMounted.Should().BeTrue();
        SHA256.HashData(Encoding.UTF8.GetBytes(readBack)).Should().Equal(SHA256.HashData(Encoding.UTF8.GetBytes(content)), "the data survives protection, key changes and the encrypted mount");
        plainAgain.Encryption.Should().Be("None");
        plainAgain.SizeBytes.Should().Be(volume.SizeBytes);
        Encoding.ASCII.GetString(AdminExport(volume)).Should().Contain(canary, "unprotecting writes the plaintext back");
        var secrets = new[] { firstText, secondText, CephKey() };
        foreach (var secret in secrets)
        {
            allSteps.Concat(applied).Should().NotContain(s => s.Contains(secret, StringComparison.Ordinal), "no key or passphrase in any step");
            errors.Should().NotContain(e => e.Contains(secret, StringComparison.Ordinal), "no key in any error");
            seenCommandLines.Concat(whileUnlocked).Should().NotContain(l => l.Contains(secret, StringComparison.Ordinal), "no key in a daemon's arguments");
        }
        seenCommandLines.Should().NotBeEmpty("daemons were seen while steps ran");
        Directory.GetDirectories(SecretFile.TmpfsRoot, $"sparsestorage-secret-{Environment.ProcessId}-*").Should().BeEmpty("no secret file outlives its step");
        LiveProcesses.CommandLinesMentioning(root.Path).Should().BeEmpty("no qemu-storage-daemon outlives the operations");
    }

    [CephFact]
    public void Protecting_refuses_a_volume_with_snapshots_and_a_second_host_cannot_unlock_or_mount_an_unlocked_volume()
    {
        var storage = Context();
        var creation = new CephVolumeCreation(storage);
        var volume = creation.Apply(creation.Plan(new NewVolumeRequest { Name = "shared", Pool = PoolName, Size = ByteSize.FromMiB(32), FileSystem = FileSystemType.Ext4 }));
        using var key = VolumeKey.FromFile(KeyFile("k.key", out _));
        var protection = new CephVolumeProtection(storage);
        var snapshotted = creation.Apply(creation.Plan(new NewVolumeRequest { Name = "snapped", Pool = PoolName, Size = ByteSize.FromMiB(16) }));
        var (ns, _) = (snapshotted.Path.Split('/')[1], 0);
        lab.Rbd("snap", "create", "--pool", CephLab.Pool, "--namespace", ns, "--image", "snapped", "--snap", "s1");
        var refusedSnapshots = Record.Exception(() => protection.Plan(new ProtectVolumeRequest(snapshotted, [key], IterationTimeMilliseconds: 100)));
        protection.Apply(protection.Plan(new ProtectVolumeRequest(volume, [key], IterationTimeMilliseconds: 100)));
        var unlocking = new CephVolumeUnlocking(storage);
        unlocking.Apply(unlocking.Plan(new UnlockVolumeRequest(volume, [key], new UnlockOptions())));
        using var hostB = new TempDirectory("sstest-ccrypt-b");
        var other = CephLab.Context(hostB);
        var registration = new CephPoolRegistration(other);
        registration.Apply(registration.Plan(new RegisterCephPoolRequest(PoolName, storage.Pools.Definitions().Single(d => d.Name == PoolName).Ceph!)));
        Exception? refusedUnlock, refusedMount;
        try
        {
            refusedUnlock = Record.Exception(() => new CephVolumeUnlocking(other).Plan(new UnlockVolumeRequest(volume, [key], new UnlockOptions())));
            refusedMount = Record.Exception(() => new CephVolumeMounting(other).Plan(new MountCephVolumeRequest(volume, hostB.Combine("mnt"), Keys: [key])));
        }
        finally
        {
            unlocking.Apply(unlocking.Plan(new LockVolumeRequest(volume)));
        }

        refusedSnapshots.Should().BeOfType<StorageOperationException>().Which.Message.Should().Contain("snapshot");
        refusedUnlock.Should().BeOfType<VolumeInUseException>().Which.Message.Should().Contain(RbdMountLock.HolderOf(storage.Runtime));
        refusedMount.Should().BeOfType<VolumeInUseException>();
        Directory.GetDirectories(SecretFile.TmpfsRoot, $"sparsestorage-secret-{Environment.ProcessId}-*").Should().BeEmpty();
    }

    public void Dispose()
    {
        if (context is not null)
            foreach (var volume in new VolumeCatalog(context).ByName(["*"], PoolName).ToList())
            {
                var attachment = context.ReadAttachments().Of(volume.Path);
                var runner = new ProcessRunner();
                foreach (var mountPoint in attachment.MountPoints)
                    runner.Run(new ToolCommand("umount", "--lazy", mountPoint));
                if (attachment.LoopDevice is { } loop)
                    runner.Run(new ToolCommand("losetup", "--detach", loop));
                if (attachment.FuseExport is { } export)
                    context.FuseExporter().Stop(export, CancellationToken.None);
            }
        root.Dispose();
    }
}

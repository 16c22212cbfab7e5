using SparseStorage.Core.Encryption;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// The rules of the encryption plans on real images: a plan refuses what the run would refuse (a wrong key, the last
/// key, a mounted volume) and changes nothing, shows keys only as a secret file's placeholder or standard input, and
/// Apply refuses a volume that changed after it was planned.
/// </summary>
public sealed class EncryptionPlanTests : IDisposable
{
    private const string Passphrase = "correct horse battery staple 2718";
    private readonly TestPool pool = new();
    private readonly SpyRunner runner = new(new ProcessRunner());
    private readonly StorageContext context;
    private readonly string keyFilePath;
    private readonly string mountPoint;

    public EncryptionPlanTests()
    {
        context = pool.Context(runner);
        keyFilePath = pool.Combine("tenant.key");
        File.WriteAllText(keyFilePath, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48)));
        mountPoint = pool.Combine("mnt");
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mkfs.ext4")]
    public void Protect_plans_without_running_anything_and_refuses_to_apply_to_an_image_written_after_the_plan()
    {
        var volume = pool.CreateVolume(context, "written", ByteSize.FromMiB(64));
        using var passphrase = VolumeKey.FromPassphrase(Passphrase);
        using var keyFile = VolumeKey.FromFile(keyFilePath);
        var protector = new VolumeProtector(context);
        runner.Commands.Clear();

        var plan = protector.Plan(new ProtectVolumeRequest(volume, [passphrase, keyFile], IterationTimeMilliseconds: 10));

        runner.Commands.Should().BeEmpty("a plan only reads");
        plan.Impact.Should().Be(PlanImpact.High);
        plan.Steps.Should().Contain(s => s.Contains("luksAddKey", StringComparison.Ordinal) && s.Contains("<secret file>", StringComparison.Ordinal));
        AssertNoSecretIn(plan);
        using (var image = new FileStream(volume.Path, FileMode.Open, FileAccess.Write))
        {
            image.Position = 8 << 20;
            image.Write("written after the plan"u8);
        }

        var apply = () => protector.Apply(plan);

        apply.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("ChangedSincePlanned");
        runner.Commands.Should().BeEmpty();
        new VolumeCatalog(context).Get(volume.Path).Encryption.Should().Be("None");
        Directory.GetFiles(pool.PoolPath, ".*").Should().BeEmpty("no work file was made");
    }

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-io", "qemu-storage-daemon", "mkfs.ext4")]
    [InlineData(VolumeFormat.Raw)]
    [InlineData(VolumeFormat.Qcow2)]
    public void Key_plans_refuse_a_wrong_key_and_the_last_key_unless_allowed_and_apply_refuses_slots_changed_after_the_plan(VolumeFormat format)
    {
        using var passphrase = VolumeKey.FromPassphrase(Passphrase);
        using var keyFile = VolumeKey.FromFile(keyFilePath);
        using var wrong = VolumeKey.FromPassphrase("Tr0ub4dor&3");
        var volume = Encrypting.Protect(context, pool.CreateVolume(context, "slots", ByteSize.FromMiB(64), format), [passphrase]);
        var manager = new VolumeKeyManager(context);

        var withWrongKey = () => manager.Plan(new AddVolumeKeyRequest(volume, [wrong], [keyFile], 10));
        withWrongKey.Should().Throw<WrongKeyException>().Which.Message.Should().NotContain("Tr0ub4dor");
        var lastKey = () => manager.Plan(new RemoveVolumeKeyRequest(volume, [passphrase]));
        lastKey.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("LastKey");

        var removeLast = manager.Plan(new RemoveVolumeKeyRequest(volume, [passphrase], AllowLastKeyRemoval: true));
        removeLast.RemovesLastKey.Should().BeTrue();
        removeLast.Impact.Should().Be(PlanImpact.High);
        removeLast.ConfirmationQuery.Should().Contain("unreadable");
        removeLast.Warnings.Should().ContainSingle().Which.Should().Contain("unreadable");
        removeLast.Steps.Should().ContainSingle();
        AssertNoSecretIn(removeLast);

        var add = manager.Plan(new AddVolumeKeyRequest(volume, [passphrase], [keyFile], 10));
        add.Steps.Should().ContainSingle().Which.Should().Contain("<secret file>");
        AssertNoSecretIn(add);
        Encrypting.AddKey(context, volume, [passphrase], keyFile).KeySlotCount.Should().Be(2);

        var stale = () => manager.Apply(removeLast);
        stale.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("ChangedSincePlanned");
        var staleAdd = () => manager.Apply(add);
        staleAdd.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("ChangedSincePlanned");
        new VolumeCatalog(context).Get(volume.Path).KeySlotCount.Should().Be(2);
        manager.Plan(new RemoveVolumeKeyRequest(volume, [passphrase])).RemovesLastKey.Should().BeFalse("the key file is left");
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void Unlock_plan_finds_the_key_and_apply_refuses_a_volume_unlocked_meanwhile_and_lock_apply_refuses_one_mounted_meanwhile()
    {
        using var passphrase = VolumeKey.FromPassphrase(Passphrase);
        using var keyFile = VolumeKey.FromFile(keyFilePath);
        var volume = Encrypting.Protect(context, pool.CreateVolume(context, "open", ByteSize.FromMiB(64)), [passphrase]);
        var unlocker = new VolumeUnlocker(context);

        var wrongOnly = () => unlocker.Plan(new UnlockVolumeRequest(volume, [keyFile], new UnlockOptions()));
        wrongOnly.Should().Throw<WrongKeyException>();
        var unlock = unlocker.Plan(new UnlockVolumeRequest(volume, [keyFile, passphrase], new UnlockOptions()));
        unlock.Steps.Should().ContainSingle();
        AssertNoSecretIn(unlock);
        new VolumeCatalog(context).Get(volume.Path).IsUnlocked.Should().BeFalse("a plan opens nothing");

        Encrypting.Unlock(context, volume, [passphrase]);
        var stale = () => unlocker.Apply(unlock);
        stale.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("ChangedSincePlanned");

        var lockPlan = unlocker.Plan(new LockVolumeRequest(volume, Dismount: true));
        lockPlan.Steps.Should().ContainSingle().Which.Should().StartWith("stop qemu-storage-daemon");
        new VolumeMounter(context).Mount(new VolumeCatalog(context).Get(volume.Path), mountPoint, readOnly: true);
        var staleLock = () => unlocker.Apply(lockPlan);
        staleLock.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("ChangedSincePlanned");
        new VolumeCatalog(context).Get(volume.Path).IsMounted.Should().BeTrue("nothing was taken down");

        var force = () => unlocker.Plan(new LockVolumeRequest(volume));
        force.Should().Throw<VolumeInUseException>("a mounted volume is unmounted only when asked");
        var lazy = unlocker.Plan(new LockVolumeRequest(volume, LazyUnmount: true));
        lazy.Steps[0].Should().Be($"umount --lazy {mountPoint}");
        unlocker.Apply(unlocker.Plan(new LockVolumeRequest(volume, Dismount: true))).IsAttached.Should().BeFalse();
        pool.AssertNothingLeftBehind();
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "mkfs.ext4")]
    public void Unprotect_plan_refuses_a_wrong_key_and_apply_refuses_an_image_whose_keys_changed_after_the_plan()
    {
        using var passphrase = VolumeKey.FromPassphrase(Passphrase);
        using var keyFile = VolumeKey.FromFile(keyFilePath);
        var volume = Encrypting.Protect(context, pool.CreateVolume(context, "decrypt", ByteSize.FromMiB(64)), [passphrase]);
        var unprotector = new VolumeUnprotector(context);

        var wrong = () => unprotector.Plan(new UnprotectVolumeRequest(volume, [keyFile]));
        wrong.Should().Throw<WrongKeyException>();
        var plan = unprotector.Plan(new UnprotectVolumeRequest(volume, [passphrase]));
        plan.Impact.Should().Be(PlanImpact.High);
        AssertNoSecretIn(plan);
        Encrypting.AddKey(context, volume, [passphrase], keyFile);

        var stale = () => unprotector.Apply(plan);

        stale.Should().Throw<StorageOperationException>().Which.ErrorId.Should().Be("ChangedSincePlanned");
        new VolumeCatalog(context).Get(volume.Path).Encryption.Should().NotBe("None");
        Directory.GetFiles(pool.PoolPath, ".*").Should().BeEmpty("no work file was made");
        pool.AssertNothingLeftBehind();
    }

    private void AssertNoSecretIn(OperationPlan plan)
    {
        var keyText = File.ReadAllText(keyFilePath);
        foreach (var text in plan.Steps.Append(plan.Describe()).Concat(plan.Warnings).Append(plan.ConfirmationQuery ?? "").Append(plan.ToString()))
        {
            text.Should().NotContain(Passphrase);
            text.Should().NotContain(keyText);
        }
    }

    public void Dispose() => pool.Dispose();
}

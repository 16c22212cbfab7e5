using System.Collections;
using System.Management.Automation;
using System.Net;
using System.Security;
using SparseStorage.PowerShell.Tests.Runtime;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// The encryption cmdlets' plans in the real runtime, on real LUKS images opened in userspace (qemu-storage-daemon,
/// FUSE, a loop device): -WhatIf lists the steps and changes nothing, the real run starts exactly those steps, and no
/// passphrase or key reaches -WhatIf, verbose, warning, error or progress output. -Force only skips confirmation.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
[CoversPlanOf("Protect-Volume", "Unprotect-Volume", "Unlock-Volume", "Lock-Volume", "Add-VolumeKey", "Remove-VolumeKey")]
public sealed class EncryptionPlanTests : IDisposable
{
    private const string PassphraseText = "correct horse battery staple 5309";
    private readonly PowerShellRuntime runtime;
    private readonly TempPool pool;
    private readonly Hashtable parameters;

    public EncryptionPlanTests(PowerShellRuntime runtime)
    {
        this.runtime = runtime;
        pool = new TempPool(runtime);
        parameters = new Hashtable
        {
            ["KeyFile"] = NewKeyFile("tenant.key"),
            ["NewKeyFile"] = NewKeyFile("second.key"),
            ["Passphrase"] = new NetworkCredential("", PassphraseText).SecurePassword,
            ["MountPoint"] = Path.Combine(pool.Spare, "mnt"),
        };
    }

    private IEnumerable<string> Secrets =>
        [PassphraseText, File.ReadAllText((string)parameters["KeyFile"]!), File.ReadAllText((string)parameters["NewKeyFile"]!)];

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-io", "qemu-storage-daemon", "losetup", "mkfs.ext4")]
    [InlineData("Raw", "cryptsetup luksFormat")]
    [InlineData("Qcow2", "qemu-img convert")]
    public void Protect_and_Unprotect_run_the_steps_their_plans_show(string format, string encryptingTool)
    {
        parameters["Path"] = pool.NewVolume("vault", extra: $"-Format {format} -FileSystem Ext4");

        var protect = PlanRoundTrip.Check(runtime, "Protect-Volume -Path $Path -KeyFile $KeyFile -Passphrase $Passphrase -IterationTime 100", parameters, State);

        protect.Planned.Should().Contain(s => s.StartsWith(encryptingTool, StringComparison.Ordinal));
        protect.Planned.Should().Contain(s => s.Contains("<secret file>", StringComparison.Ordinal), "the second key reaches the tool as a secret file");
        Volume().Encryption.Should().NotBe("None");
        Volume().KeySlotCount.Should().Be(2);

        var unprotect = PlanRoundTrip.Check(runtime, "Unprotect-Volume -Path $Path -KeyFile $KeyFile", parameters, State);

        unprotect.Planned.Should().NotBeEmpty();
        Volume().Encryption.Should().Be("None");
        AssertNoSecretIn(protect, unprotect);
    }

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    [InlineData("Raw")]
    [InlineData("Qcow2")]
    public void Unlock_and_Lock_run_the_steps_their_plans_show(string format)
    {
        Protected(format);

        var unlock = PlanRoundTrip.Check(runtime, "Unlock-Volume -Path $Path -KeyFile $KeyFile", parameters, State);

        unlock.Planned.Should().ContainSingle().Which.Should().StartWith("qemu-storage-daemon").And.Contain("<secret file>");
        Volume().IsUnlocked.Should().BeTrue();
        runtime.Run("Mount-SparseVolume -Path $Path -MountPoint $MountPoint", parameters).Succeeded();

        var lockVolume = PlanRoundTrip.Check(runtime, "Lock-Volume -Path $Path -Dismount", parameters, State);

        lockVolume.Planned.Should().HaveCount(3);
        lockVolume.Planned[0].Should().Be($"umount {parameters["MountPoint"]}");
        lockVolume.Planned[1].Should().StartWith("losetup --detach /dev/loop");
        lockVolume.Planned[2].Should().StartWith("stop qemu-storage-daemon (pid ");
        Volume().IsAttached.Should().BeFalse();
        AssertNoSecretIn(unlock, lockVolume);
    }

    [IntegrationTheory("cryptsetup", "qemu-img", "qemu-io", "qemu-storage-daemon", "losetup", "mkfs.ext4")]
    [InlineData("Raw", "cryptsetup luksAddKey", "cryptsetup luksRemoveKey")]
    [InlineData("Qcow2", "qemu-img amend", "qemu-img amend --force")]
    public void Add_and_Remove_VolumeKey_run_the_steps_their_plans_show(string format, string addingTool, string removingTool)
    {
        Protected(format);

        var add = PlanRoundTrip.Check(runtime, "Add-VolumeKey -Path $Path -KeyFile $KeyFile -NewKeyFile $NewKeyFile -NewPassphrase $Passphrase -IterationTime 100", parameters, State);

        add.Planned.Should().HaveCount(2).And.OnlyContain(s => s.StartsWith(addingTool, StringComparison.Ordinal));
        Volume().KeySlotCount.Should().Be(3);

        var remove = PlanRoundTrip.Check(runtime, "Remove-VolumeKey -Path $Path -KeyFile $KeyFile", parameters, State);

        remove.Planned.Should().ContainSingle().Which.Should().StartWith(removingTool);
        Volume().KeySlotCount.Should().Be(2);
        AssertNoSecretIn(add, remove);
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mkfs.ext4")]
    public void The_last_key_goes_only_with_AllowLastKeyRemoval_which_asks_saying_the_data_becomes_unreadable_even_where_Force_is_given()
    {
        Protected("Raw");
        var before = State();

        var forced = runtime.Run("Remove-VolumeKey -Path $Path -KeyFile $KeyFile -Force", parameters);

        forced.Error.FullyQualifiedErrorId.Should().Be("LastKey,SparseStorage.PowerShell.Commands.RemoveVolumeKeyCommand");
        forced.Error.Exception.Message.Should().Contain("-AllowLastKeyRemoval");
        State().Should().Equal(before, "-Force skips the confirmation, nothing else");

        var host = new PromptRecordingHost("No");
        using (var runspace = runtime.Open(host))
        {
            var whatIf = PowerShellRuntime.Run(runspace, "Remove-VolumeKey -Path $Path -KeyFile $KeyFile -AllowLastKeyRemoval -WhatIf", parameters).Succeeded();
            whatIf.Warnings.Should().ContainSingle().Which.Message.Should().Contain("unreadable");
            host.Lines.Should().Contain(l => l.StartsWith("What if:", StringComparison.Ordinal) && l.Contains("unreadable", StringComparison.Ordinal));

            PowerShellRuntime.Run(runspace, "Remove-VolumeKey -Path $Path -KeyFile $KeyFile -AllowLastKeyRemoval", parameters).Succeeded();
        }

        host.Prompts.Should().ContainSingle().Which.Should().Contain("unreadable");
        State().Should().Equal(before, "the answer was No");

        runtime.Run("Remove-VolumeKey -Path $Path -KeyFile $KeyFile -AllowLastKeyRemoval -Force", parameters).Succeeded();

        Volume().KeySlotCount.Should().Be(0);
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void Lock_Volume_Force_does_not_unmount_a_mounted_volume_and_LazyUnmount_plans_a_lazy_unmount()
    {
        Protected("Raw");
        runtime.Run("Mount-SparseVolume -Path $Path -MountPoint $MountPoint -KeyFile $KeyFile", parameters).Succeeded();
        var before = State();

        var forced = runtime.Run("Lock-Volume -Path $Path -Force", parameters);

        forced.Error.FullyQualifiedErrorId.Should().Be("VolumeInUse,SparseStorage.PowerShell.Commands.LockVolumeCommand");
        State().Should().Equal(before);

        var lazy = runtime.Run("Lock-Volume -Path $Path -LazyUnmount -WhatIf -Verbose", parameters).Succeeded();

        lazy.Verbose.Select(v => v.Message).Should().Contain($"Plan: umount --lazy {parameters["MountPoint"]}");
        State().Should().Equal(before);
    }

    [IntegrationFact("cryptsetup", "qemu-storage-daemon", "losetup", "mount", "mkfs.ext4")]
    public void No_passphrase_or_key_reaches_WhatIf_verbose_warning_error_or_progress_output()
    {
        parameters["Path"] = pool.NewVolume("secrets", extra: "-FileSystem Ext4");
        parameters["WrongKeyFile"] = NewKeyFile("wrong.key");
        var host = new PromptRecordingHost("Yes");
        var seen = new List<Invocation>();
        using (var runspace = runtime.Open(host))
        {
            foreach (var command in new[]
                     {
                         "Protect-Volume -Path $Path -Passphrase $Passphrase -KeyFile $KeyFile -IterationTime 100",
                         "Add-VolumeKey -Path $Path -Passphrase $Passphrase -NewKeyFile $NewKeyFile -IterationTime 100",
                         "Unlock-Volume -Path $Path -Passphrase $Passphrase",
                         "Lock-Volume -Path $Path",
                         "Remove-VolumeKey -Path $Path -KeyFile $KeyFile",
                         "Unprotect-Volume -Path $Path -Passphrase $Passphrase",
                     })
            {
                seen.Add(PowerShellRuntime.Run(runspace, command + " -WhatIf -Verbose", parameters).Succeeded());
                seen.Add(PowerShellRuntime.Run(runspace, command + " -Verbose -Confirm:$false", parameters).Succeeded());
            }
            seen.Add(PowerShellRuntime.Run(runspace, "Protect-Volume -Path $Path -KeyFile $WrongKeyFile -IterationTime 100 -Confirm:$false", parameters).Succeeded());
            var wrong = PowerShellRuntime.Run(runspace, "Unlock-Volume -Path $Path -KeyFile $KeyFile -Verbose", parameters);
            wrong.Error.FullyQualifiedErrorId.Should().StartWith("WrongKey,");
            seen.Add(wrong);
        }

        seen.Should().Contain(i => i.Verbose.Any(v => v.Message.StartsWith("Step: ", StringComparison.Ordinal)));
        host.Lines.Should().Contain(l => l.StartsWith("What if:", StringComparison.Ordinal));
        AssertNoSecretIn([.. host.Lines, .. host.Prompts, .. seen.SelectMany(Texts)]);
    }

    /// <summary>The pool's files with sizes and times, the volume's state, and the mounts under the test's directories.</summary>
    private IReadOnlyList<string> State()
    {
        var volume = runtime.Run("Get-SparseVolume -Path $Path | ForEach-Object { '{0} {1} {2} {3} {4} {5}' -f $_.Encryption, $_.KeySlotCount, $_.IsUnlocked, $_.IsAttached, $_.IsMounted, $_.LoopDevice }",
            parameters).Succeeded().Output.Select(o => o.ToString());
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(runtime.Root, StringComparison.Ordinal));
        return [.. pool.Snapshot(), .. volume, .. mounts];
    }

    private VolumeState Volume()
    {
        var volume = runtime.Run("Get-SparseVolume -Path $Path", parameters).Succeeded().Output.Single();
        T Get<T>(string name) => (T)volume.Properties[name].Value;
        return new VolumeState(Get<string>("Encryption"), Get<int>("KeySlotCount"), Get<bool>("IsUnlocked"), Get<bool>("IsAttached"));
    }

    private sealed record VolumeState(string Encryption, int KeySlotCount, bool IsUnlocked, bool IsAttached);

    private void Protected(string format)
    {
        parameters["Path"] = pool.NewVolume("vault", extra: $"-Format {format} -FileSystem Ext4");
        runtime.Run("Protect-Volume -Path $Path -KeyFile $KeyFile -IterationTime 100 -Confirm:$false", parameters).Succeeded();
    }

    private string NewKeyFile(string name)
    {
        var path = Path.Combine(pool.Spare, name);
        File.WriteAllText(path, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48)));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private void AssertNoSecretIn(params PlanRoundTrip.Outcome[] outcomes) =>
        AssertNoSecretIn([.. outcomes.SelectMany(o => Texts(o.WhatIf).Concat(Texts(o.Applying)))]);

    private void AssertNoSecretIn(IReadOnlyList<string> texts)
    {
        texts.Should().NotBeEmpty();
        foreach (var secret in Secrets)
            texts.Should().NotContain(t => t.Contains(secret, StringComparison.Ordinal) || t.Contains(secret.Trim(), StringComparison.Ordinal));
    }

    private static IEnumerable<string> Texts(Invocation invocation) =>
    [
        .. invocation.Verbose.Select(v => v.Message),
        .. invocation.Warnings.Select(w => w.Message),
        .. invocation.Errors.Select(e => $"{e} {e.Exception} {e.TargetObject}"),
        .. invocation.Progress.Select(p => $"{p.Activity} {p.StatusDescription} {p.CurrentOperation}"),
        .. invocation.Terminating is null ? [] : new[] { invocation.Terminating.ToString() },
    ];

    public void Dispose()
    {
        if (parameters["Path"] is string)
            runtime.Run("Get-SparseVolume -Path $Path | Where-Object Encryption -NE 'None' | Lock-Volume -Dismount -Force -ErrorAction Continue", parameters);
        pool.Dispose();
    }
}

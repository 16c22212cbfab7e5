using System.Collections;
using System.Management.Automation;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// Each kind of failure Core raises, as the engine delivers it: the error id qualified by the cmdlet, the category the
/// mapping chose, and the object the user named as the target.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class ErrorRecordTests(PowerShellRuntime runtime) : IDisposable
{
    private readonly TempPool pool = new(runtime);

    public static TheoryData<string, string, ErrorCategory, string> WithoutVolumes => new()
    {
        { "Get-SparseVolume -Name nosuch", "VolumeNotFound,SparseStorage.PowerShell.Commands.GetSparseVolumeCommand", ErrorCategory.ObjectNotFound, "nosuch" },
        { "Remove-SparseVolume -Name nosuch -Force", "VolumeNotFound,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand", ErrorCategory.ObjectNotFound, "nosuch" },
        { "Get-SparseVolume -Pool nosuchpool", "PoolNotFound,SparseStorage.PowerShell.Commands.GetSparseVolumeCommand", ErrorCategory.ObjectNotFound, "nosuchpool" },
        { "New-SparseVolume -Name 'bad/name' -Size 1MB", "InvalidVolumeName,SparseStorage.PowerShell.Commands.NewSparseVolumeCommand", ErrorCategory.InvalidArgument, "bad/name" },
        { "Register-StoragePool -Name 'bad name' -Path $Root", "InvalidPoolName,SparseStorage.PowerShell.Commands.RegisterStoragePoolCommand", ErrorCategory.InvalidArgument, "bad name" },
        { "Register-StoragePool -Name p -Path $Missing", "PoolPathNotFound,SparseStorage.PowerShell.Commands.RegisterStoragePoolCommand", ErrorCategory.InvalidArgument, "$Missing" },
        { "'text' | Add-AtaoeDiskToGroup -VolumeGroup vg -WhatIf", "InputObjectOfWrongType,SparseStorage.PowerShell.Commands.AddAtaoeDiskToGroupCommand", ErrorCategory.InvalidArgument, "text" },
        { "'text' | Unregister-StoragePool", "InputObjectOfWrongType,SparseStorage.PowerShell.Commands.UnregisterStoragePoolCommand", ErrorCategory.InvalidArgument, "text" },
        { "New-SparseVolume -Path $Outside -Size 1MB", "PathOutsidePool,SparseStorage.PowerShell.Commands.NewSparseVolumeCommand", ErrorCategory.PermissionDenied, "$Outside" },
        { "Remove-SparseVolume -Path $Outside -Force", "PathOutsidePool,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand", ErrorCategory.PermissionDenied, "$Outside" },
    };

    [Theory]
    [MemberData(nameof(WithoutVolumes))]
    public void A_failure_becomes_an_error_record_with_its_id_category_and_target(string command, string id, ErrorCategory category, string target)
    {
        var variables = new Hashtable
        {
            ["Root"] = runtime.Root,
            ["Missing"] = Path.Combine(runtime.Root, "no-such-directory"),
            ["Outside"] = Path.Combine(runtime.Root, "outside.img"),
        };
        var result = Run(command, variables);

        result.Error.FullyQualifiedErrorId.Should().Be(id);
        result.Error.CategoryInfo.Category.Should().Be(category);
        result.Error.TargetObject.Should().Be(target.StartsWith('$') ? variables[target[1..]] : target);
        File.Exists((string)variables["Outside"]!).Should().BeFalse();
    }

    [IntegrationFact]
    public void Creating_a_volume_that_exists_reports_ResourceExists_on_its_file()
    {
        var path = pool.NewVolume("twice");

        var result = Run("New-SparseVolume -Name twice -Pool $Pool -Size 16MB", new Hashtable { ["Pool"] = pool.Name });

        result.Error.FullyQualifiedErrorId.Should().StartWith("VolumeExists,");
        result.Error.CategoryInfo.Category.Should().Be(ErrorCategory.ResourceExists);
        result.Error.TargetObject.Should().Be(path);
    }

    [IntegrationFact("losetup", "mount", "umount", "mkfs.ext4")]
    public void Removing_a_mounted_volume_reports_VolumeInUse_and_keeps_it()
    {
        var path = pool.NewVolume("busy", extra: "-FileSystem Ext4");
        var mountPoint = Directory.CreateDirectory(Path.Combine(runtime.Root, "mnt-" + pool.Name)).FullName;
        try
        {
            Run("Mount-SparseVolume -Path $Path -MountPoint $MountPoint", new Hashtable { ["Path"] = path, ["MountPoint"] = mountPoint })
                .Succeeded();

            var result = Run("Remove-SparseVolume -Path $Path -Force", new Hashtable { ["Path"] = path });

            result.Error.FullyQualifiedErrorId.Should().Be("VolumeInUse,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand");
            result.Error.CategoryInfo.Category.Should().Be(ErrorCategory.ResourceBusy);
            PSObject.AsPSObject(result.Error.TargetObject).Properties["Path"].Value.Should().Be(path, "the target is the volume that is in use");
            File.Exists(path).Should().BeTrue();
        }
        finally
        {
            Run("Dismount-SparseVolume -Path $Path -Confirm:$false", new Hashtable { ["Path"] = path }).Succeeded();
            Directory.Delete(mountPoint);
        }
    }

    [Fact]
    public void One_missing_volume_of_several_is_a_non_terminating_error_and_the_rest_are_still_processed()
    {
        var result = Run("Get-SparseVolume -Name nosuch1, nosuch2; 'after'");

        result.Errors.Select(e => e.TargetObject).Should().Equal("nosuch1", "nosuch2");
        result.Terminating.Should().BeNull();
        result.Output.Select(o => o.BaseObject).Should().Equal("after");
    }

    [Fact]
    public void ErrorAction_Stop_turns_the_record_into_an_exception_that_keeps_it()
    {
        var result = Run("Get-SparseVolume -Pool nosuchpool -ErrorAction Stop; 'not reached'");

        result.Output.Should().BeEmpty();
        result.Terminating.Should().BeOfType<ActionPreferenceStopException>();
        result.Error.FullyQualifiedErrorId.Should().StartWith("PoolNotFound,");
    }

    public static TheoryData<string, string, ErrorCategory> PowerShellsOwnFailures => new()
    {
        { "Get-SparseVolume -Path nosuchdrive:/x.img", "DriveNotFound,", ErrorCategory.ObjectNotFound },
        { "Register-StoragePool -Name p -Path nosuchdrive:/pool -Confirm:$false", "DriveNotFound,", ErrorCategory.ObjectNotFound },
        { "Get-SparseVolume -Path Env:/HOME", "Argument,", ErrorCategory.InvalidArgument },
    };

    [Theory]
    [MemberData(nameof(PowerShellsOwnFailures))]
    public void A_failure_PowerShell_raises_keeps_its_own_error_record(string command, string idPrefix, ErrorCategory category)
    {
        var result = Run(command);

        result.Error.FullyQualifiedErrorId.Should().StartWith(idPrefix).And.NotContain("UnexpectedError");
        result.Error.CategoryInfo.Category.Should().Be(category);
        result.Error.Exception.Should().BeAssignableTo<IContainsErrorRecord>();
    }

    [Fact]
    public void A_file_the_kernel_fails_to_read_is_a_ReadError_naming_the_file()
    {
        // Reading /proc/self/mem from offset 0 fails with EIO: the page at address 0 is never mapped.
        var saved = Environment.GetEnvironmentVariable("SPARSESTORAGE_CONFIG");
        Environment.SetEnvironmentVariable("SPARSESTORAGE_CONFIG", "/proc/self/mem");
        try
        {
            var result = Run("Get-StoragePool");

            result.Error.FullyQualifiedErrorId.Should().Be("ReadFailed,SparseStorage.PowerShell.Commands.GetStoragePoolCommand");
            result.Error.CategoryInfo.Category.Should().Be(ErrorCategory.ReadError);
            result.Error.TargetObject.Should().Be("/proc/self/mem");
            result.Error.Exception.Message.Should().Contain("Reading /proc/self/mem failed");
            result.Error.Exception.InnerException.Should().BeOfType<IOException>();
        }
        finally
        {
            Environment.SetEnvironmentVariable("SPARSESTORAGE_CONFIG", saved);
        }
    }

    public void Dispose() => pool.Dispose();

    private Invocation Run(string command, Hashtable? variables = null) => runtime.Run(command, variables);
}

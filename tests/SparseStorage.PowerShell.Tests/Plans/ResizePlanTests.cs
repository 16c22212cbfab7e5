using System.Collections;
using System.Management.Automation;
using SparseStorage.PowerShell.Tests.Runtime;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// Resize-SparseVolume and Optimize-SparseVolume in the real runtime: -WhatIf lists the steps the real run starts
/// (a size only the run can measure shown as &lt;…&gt;), a shrink below used space is refused already by -WhatIf,
/// and the three ways of giving the new size are parameter sets that PowerShell itself keeps apart.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
[CoversPlanOf("Resize-SparseVolume", "Optimize-SparseVolume")]
public sealed class ResizePlanTests(PowerShellRuntime runtime) : IDisposable
{
    private const string Tools = "mkfs.ext4";
    private readonly TempPool pool = new(runtime);

    [IntegrationFact(Tools, "e2fsck", "resize2fs")]
    public void Growing_an_unattached_raw_ext4_volume_runs_the_planned_steps()
    {
        var path = pool.NewVolume("grow", "128MB", "-FileSystem Ext4");

        var outcome = PlanRoundTrip.Check(runtime, "Resize-SparseVolume -Path $Path -Size 192MB", new Hashtable { ["Path"] = path }, pool.Snapshot);

        outcome.Planned.Should().Equal($"truncate -s {192L << 20} {path}", $"e2fsck -f -y {path}", $"resize2fs {path} {192 * 1024}K");
        new FileInfo(path).Length.Should().Be(192L << 20);
    }

    [IntegrationFact(Tools, "e2fsck", "resize2fs")]
    public void Shrinking_by_a_negative_Delta_from_the_pipeline_runs_the_planned_steps()
    {
        var path = pool.NewVolume("shrink", "256MB", "-FileSystem Ext4");

        var outcome = PlanRoundTrip.Check(runtime, "Get-SparseVolume -Path $Path | Resize-SparseVolume -Delta '-64MB'", new Hashtable { ["Path"] = path }, pool.Snapshot);

        outcome.Planned.Should().Equal($"e2fsck -f -y {path}", $"resize2fs -P {path}", $"resize2fs {path} {192 * 1024}K", $"e2fsck -f -n {path}", $"truncate -s {192L << 20} {path}");
        new FileInfo(path).Length.Should().Be(192L << 20);
    }

    [IntegrationFact(Tools, "e2fsck", "resize2fs")]
    public void ToMinimumSize_shows_the_measured_size_as_a_placeholder_that_the_run_fills_in()
    {
        var path = pool.NewVolume("minimum", "256MB", "-FileSystem Ext4");

        var outcome = PlanRoundTrip.Check(runtime, "Get-Item -Path $Path | Resize-SparseVolume -ToMinimumSize", new Hashtable { ["Path"] = path }, pool.Snapshot);

        outcome.Planned.Should().Contain($"resize2fs {path} '<measured minimum + margin>'").And.Contain($"truncate -s <measured minimum + margin> {path}");
        outcome.Applied.Should().NotContain(step => step.Contains('<'), "the run knows the size it measured");
        var shrunk = new FileInfo(path).Length;
        shrunk.Should().BeLessThan(256L << 20).And.BeGreaterThanOrEqualTo(64L << 20);
        outcome.Applied.Should().Contain($"truncate -s {shrunk} {path}");
    }

    [IntegrationFact(Tools, "qemu-img", "qemu-storage-daemon", "e2fsck", "resize2fs")]
    public void Growing_a_qcow2_volume_by_name_runs_the_planned_steps_through_a_temporary_FUSE_export()
    {
        var path = pool.NewVolume("image", "64MB", "-Format Qcow2 -FileSystem Ext4");

        var outcome = PlanRoundTrip.Check(runtime, "Resize-SparseVolume -Name image -Pool $Pool -Size 96MB", new Hashtable { ["Pool"] = pool.Name }, pool.Snapshot);

        outcome.Planned[0].Should().Be($"qemu-img resize -q -f qcow2 {path} {96L << 20}");
        outcome.Planned.Should().Contain(s => s.StartsWith("qemu-storage-daemon ", StringComparison.Ordinal))
            .And.Contain(s => s.StartsWith("resize2fs ", StringComparison.Ordinal) && s.EndsWith($" {96 * 1024}K", StringComparison.Ordinal));
        runtime.Run("(Get-SparseVolume -Path $Path).FileSystemSizeBytes", new Hashtable { ["Path"] = path }).Succeeded()
            .Output.Single().BaseObject.Should().Be(96L << 20);
    }

    [IntegrationFact(Tools, "losetup", "mount", "fstrim")]
    public void Optimizing_a_raw_volume_runs_the_planned_trim_and_hole_punching()
    {
        var path = pool.NewVolume("trim", "64MB", "-FileSystem Ext4");

        var outcome = PlanRoundTrip.Check(runtime, "Optimize-SparseVolume -Path $Path", new Hashtable { ["Path"] = path }, pool.Snapshot);

        outcome.Planned.Should().Contain(s => s.StartsWith("mount -t ext4 '<loop device>' ", StringComparison.Ordinal))
            .And.Contain(s => s.StartsWith("fstrim --verbose ", StringComparison.Ordinal));
        outcome.Planned[^1].Should().StartWith("punch holes in all-zero");
    }

    [IntegrationFact(Tools, "qemu-img", "qemu-storage-daemon", "losetup", "mount", "fstrim")]
    public void Optimizing_a_qcow2_volume_runs_the_planned_trim_and_compaction()
    {
        var path = pool.NewVolume("compact", "64MB", "-Format Qcow2 -FileSystem Ext4");

        var outcome = PlanRoundTrip.Check(runtime, "Optimize-SparseVolume -Path $Path", new Hashtable { ["Path"] = path }, pool.Snapshot);

        outcome.Planned.Should().Contain($"qemu-img convert -p -f qcow2 -O qcow2 {path} '<work file beside the image>'", "the run names its work file");
        pool.Names().Should().Equal("compact.qcow2");
    }

    [IntegrationFact(Tools, "losetup", "mount", "e2fsck", "resize2fs")]
    public void WhatIf_refuses_a_shrink_below_used_space_as_the_run_does_and_changes_nothing()
    {
        var path = pool.NewVolume("full", "256MB", "-FileSystem Ext4");
        // 128 MiB of data: 192 MiB would be room enough for an empty filesystem (its floor is used space + 64 MiB).
        runtime.Run("""
            $mounted = Mount-SparseVolume -Path $Path -MountPoint $MountPoint
            try { [IO.File]::WriteAllBytes((Join-Path $MountPoint data.bin), [byte[]]::new(128MB)) }
            finally { $mounted | Dismount-SparseVolume }
            """, new Hashtable { ["Path"] = path, ["MountPoint"] = Directory.CreateDirectory(Path.Combine(pool.Spare, "mnt")).FullName }).Succeeded();
        var before = pool.Snapshot();
        var parameters = new Hashtable { ["Path"] = path };

        var whatIf = runtime.Run("Resize-SparseVolume -Path $Path -Size 192MB -WhatIf", parameters);
        pool.Snapshot().Should().Equal(before);
        var real = runtime.Run("Resize-SparseVolume -Path $Path -Size 192MB -Confirm:$false", parameters);

        whatIf.Error.FullyQualifiedErrorId.Should().Be("ShrinkBelowUsedSpace,SparseStorage.PowerShell.Commands.ResizeSparseVolumeCommand");
        real.Error.FullyQualifiedErrorId.Should().Be(whatIf.Error.FullyQualifiedErrorId);
        whatIf.Error.Exception.Message.Should().Contain("192 MiB");
        pool.Snapshot().Should().Equal(before);
    }

    [Fact]
    public void Size_Delta_and_ToMinimumSize_each_make_a_set_by_name_and_one_by_path()
    {
        var sets = runtime.Run("(Get-Command Resize-SparseVolume).ParameterSets | ForEach-Object { $_.Name + ': ' + $_.ToString() }").Succeeded()
            .Output.Select(o => (string)o.BaseObject).ToList();

        sets.Should().HaveCount(6);
        foreach (var (set, mandatory) in new[] { ("Size", "-Size <ByteSize>"), ("Delta", "-Delta <long>"), ("ToMinimumSize", "-ToMinimumSize") })
        {
            sets.Should().ContainSingle(s => s.StartsWith(set + "ByName: [-Name] <string> " + mandatory, StringComparison.Ordinal));
            sets.Should().ContainSingle(s => s.StartsWith(set + "ByPath: -Path <string> " + mandatory, StringComparison.Ordinal));
        }
        runtime.Run("(Get-Command Resize-SparseVolume).DefaultParameterSet").Succeeded().Output.Single().BaseObject.Should().Be("SizeByPath");
    }

    [Theory]
    [InlineData("-Size 32MB -Delta 16MB")]
    [InlineData("-Delta '-16MB' -ToMinimumSize")]
    [InlineData("-Size 32MB -ToMinimumSize")]
    public void Two_ways_of_giving_the_size_are_a_parameter_binding_error_before_anything_runs(string arguments)
    {
        var result = runtime.Run($"Resize-SparseVolume -Path /nonexistent/v.img {arguments}");

        result.Error.Exception.Should().BeOfType<ParameterBindingException>();
        result.Error.FullyQualifiedErrorId.Should().StartWith("AmbiguousParameterSet,");
    }

    [IntegrationFact(Tools)]
    public void Delta_takes_signed_text_and_numbers_and_a_size_without_a_sign_grows()
    {
        var path = pool.NewVolume("delta", "64MB");
        var parameters = new Hashtable { ["Path"] = path };

        long SizeAfter(string delta) =>
            (long)runtime.Run($"(Resize-SparseVolume -Path $Path -Delta {delta} -Confirm:$false).NewSizeBytes", parameters).Succeeded().Output.Single().BaseObject;

        SizeAfter("'+16MB'").Should().Be(80L << 20);
        SizeAfter("16MB").Should().Be(96L << 20);
        SizeAfter("-8MB").Should().Be(88L << 20);
        SizeAfter("'1.5M'").Should().Be(90L << 20, "a new size is rounded up to whole MiB");
    }

    public void Dispose() => pool.Dispose();
}

using SparseStorage.Core.Planning;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;
using SparseStorage.Core.Volumes.Maintenance;
using SparseStorage.Core.Volumes.Resize;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// The resize and optimize plans on real volumes: what Plan refuses before anything runs (a shrink below the space the
/// superblock says is used), what it shows for a size only the run can measure, and Apply refusing a volume that
/// changed after it was planned.
/// </summary>
public sealed class ResizePlanTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;

    public ResizePlanTests() => context = pool.Context();

    [IntegrationFact("mkfs.ext4", "mount", "losetup")]
    public void Plan_refuses_a_shrink_below_the_used_space_of_the_superblock_without_running_a_tool()
    {
        var volume = pool.CreateVolume(context, "full", ByteSize.FromMiB(512));
        Fill(volume, 256 << 20);
        var spy = new SpyRunner(new Processes.ProcessRunner());
        var resizer = new VolumeResizer(pool.Context(spy));
        var current = new VolumeCatalog(context).Get(volume.Path);

        // An empty filesystem of this size fits in 300 MiB (its floor is used space + 64 MiB); this one does not.
        FluentActions.Invoking(() => resizer.Plan(ResizeRequest.To(current, ByteSize.FromMiB(300))))
            .Should().Throw<ShrinkBelowUsedException>().WithMessage("*cannot shrink to 300 MiB*");
        spy.Commands.Should().BeEmpty("Plan reads the superblock itself");
        resizer.Plan(ResizeRequest.To(current, ByteSize.FromMiB(400))).IsShrink.Should().BeTrue();
        new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(512L << 20);
    }

    [IntegrationFact("mkfs.ext4")]
    public void A_plan_to_the_minimum_size_shows_the_size_as_measured_and_asks_as_a_shrink()
    {
        var volume = pool.CreateVolume(context, "minimum", ByteSize.FromMiB(256));

        var plan = new VolumeResizer(context).Plan(ResizeRequest.ToMinimum(volume));

        plan.NewSizeBytes.Should().BeNull();
        plan.Impact.Should().Be(PlanImpact.High);
        plan.Action.Should().Be("Shrink volume");
        plan.Steps.Should().Contain($"resize2fs {volume.Path} '<measured minimum + margin>'").And.Contain($"truncate -s <measured minimum + margin> {volume.Path}");
        plan.ConfirmationQuery.Should().Contain("'minimum' from 256 MiB to its filesystem's <measured minimum + margin>").And.Contain("cut off");
    }

    [IntegrationFact("mkfs.ext4")]
    public void A_grow_is_a_medium_impact_plan_that_asks_nothing_more()
    {
        var volume = pool.CreateVolume(context, "grow", ByteSize.FromMiB(64));

        var plan = new VolumeResizer(context).Plan(ResizeRequest.By(volume, 32L << 20));

        plan.Should().Match<ResizePlan>(p => p.Impact == PlanImpact.Medium && p.Action == "Resize volume" && p.ConfirmationQuery == null && p.NewSizeBytes == 96L << 20);
        plan.Target.Should().Be(volume.Path);
    }

    [IntegrationFact("mkfs.ext4", "e2fsck", "resize2fs")]
    public void Apply_refuses_a_volume_whose_size_changed_after_the_plan_and_changes_nothing()
    {
        var volume = pool.CreateVolume(context, "moved", ByteSize.FromMiB(128));
        var resizer = new VolumeResizer(context);
        var plan = resizer.Plan(ResizeRequest.To(volume, ByteSize.FromMiB(192)));
        resizer.Resize(ResizeRequest.To(volume, ByteSize.FromMiB(160)));

        FluentActions.Invoking(() => resizer.Apply(plan)).Should().Throw<StorageOperationException>()
            .Where(e => e.ErrorId == "ChangedSincePlanned" && e.Message.Contains("160 MiB, not 128 MiB"));
        new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(160L << 20);
    }

    [IntegrationFact("mkfs.ext4", "mount", "losetup")]
    public void Apply_refuses_a_volume_mounted_after_the_plan()
    {
        var volume = pool.CreateVolume(context, "mounted", ByteSize.FromMiB(128));
        var resizer = new VolumeResizer(context);
        var plan = resizer.Plan(ResizeRequest.To(volume, ByteSize.FromMiB(192)));
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("mnt"), readOnly: false);
        try
        {
            FluentActions.Invoking(() => resizer.Apply(plan)).Should().Throw<StorageOperationException>()
                .Where(e => e.ErrorId == "ChangedSincePlanned" && e.Message.Contains("mounted at"));
            new VolumeCatalog(context).Get(volume.Path).SizeBytes.Should().Be(128L << 20);
        }
        finally
        {
            mounter.Dismount(new VolumeCatalog(context).Get(mounted.Path));
        }
    }

    [IntegrationFact("mkfs.ext4", "mount", "losetup", "fstrim")]
    public void Optimize_refuses_to_apply_a_plan_made_for_a_dismounted_volume_once_it_is_mounted()
    {
        var volume = pool.CreateVolume(context, "trim", ByteSize.FromMiB(64));
        var optimizer = new VolumeOptimizer(context);
        var plan = optimizer.Plan(volume);
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("mnt"), readOnly: false);
        try
        {
            FluentActions.Invoking(() => optimizer.Apply(plan)).Should().Throw<StorageOperationException>().Where(e => e.ErrorId == "ChangedSincePlanned");
        }
        finally
        {
            mounter.Dismount(new VolumeCatalog(context).Get(mounted.Path));
        }
        pool.AssertNothingLeftBehind();
    }

    /// <summary>Writes <paramref name="bytes"/> of random data into the volume's filesystem.</summary>
    private void Fill(SparseVolume volume, int bytes)
    {
        var mounter = new VolumeMounter(context);
        var mounted = mounter.Mount(volume, pool.Combine("fill"), readOnly: false);
        try
        {
            File.WriteAllBytes(Path.Combine(mounted.MountPoint!, "data.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));
        }
        finally
        {
            mounter.Dismount(mounted);
        }
    }

    public void Dispose() => pool.Dispose();
}

using SparseStorage.Core.Planning;

namespace SparseStorage.Core.Volumes.Resize;

/// <summary>
/// What a resize will do to one volume, made by <see cref="VolumeResizer.Plan"/> from the volume as it was read:
/// the steps of a dry run of the resize itself, the pool's overcommit warnings, and High impact for a shrink.
/// </summary>
public sealed record ResizePlan : OperationPlan
{
    /// <summary>How the new size of -ToMinimumSize appears before the run has measured the filesystem.</summary>
    public static readonly string MeasuredSize = Measured("measured minimum + margin");

    internal ResizePlan(ResizeRequest request, SparseVolume volume, PlannedVolumeState state, long? newSizeBytes, IReadOnlyList<string> steps)
    {
        Request = request;
        Volume = volume;
        State = state;
        NewSizeBytes = newSizeBytes;
        Steps = steps;
        Impact = IsShrink ? PlanImpact.High : PlanImpact.Medium;
    }

    public ResizeRequest Request { get; }
    /// <summary>The volume as Plan read it.</summary>
    public SparseVolume Volume { get; }

    /// <summary>The volume's state the steps were planned for; Apply refuses to run on another.</summary>
    public PlannedVolumeState State { get; }

    /// <summary>The new virtual size; null for -ToMinimumSize, which only the run can measure.</summary>
    public long? NewSizeBytes { get; }

    public bool IsShrink => NewSizeBytes is not { } size || size < Volume.SizeBytes;

    public override string Target => Volume.Path;
    public override string Action => IsShrink ? "Shrink volume" : "Resize volume";

    public override string? ConfirmationQuery => IsShrink
        ? $"Shrink volume '{Volume.Name}' from {ByteSize.Format(Volume.SizeBytes)} to {(NewSizeBytes is { } size ? ByteSize.Format(size) : "its filesystem's " + MeasuredSize)}? " +
          "Everything beyond the new size is cut off the image."
        : null;
}

namespace SparseStorage.Core.Volumes.Resize;

/// <summary>
/// What Resize-SparseVolume was asked for: one volume (read again by the plan), and exactly one of a new size, a
/// signed change, or the minimum.
/// </summary>
public sealed record ResizeRequest(SparseVolume Volume)
{
    public ByteSize? Size { get; init; }
    /// <summary>A signed change in bytes: +10 GiB grows, -5 GiB shrinks.</summary>
    public long? Delta { get; init; }
    public bool ToMinimumSize { get; init; }

    public static ResizeRequest To(SparseVolume volume, ByteSize size) => new(volume) { Size = size };

    public static ResizeRequest By(SparseVolume volume, long delta) => new(volume) { Delta = delta };

    public static ResizeRequest ToMinimum(SparseVolume volume) => new(volume) { ToMinimumSize = true };

    public void Validate()
    {
        var given = (Size is null ? 0 : 1) + (Delta is null ? 0 : 1) + (ToMinimumSize ? 1 : 0);
        if (given != 1)
            throw new InvalidStorageArgumentException("ResizeTargetRequired", "Give exactly one of -Size, -Delta or -ToMinimumSize.");
    }
}

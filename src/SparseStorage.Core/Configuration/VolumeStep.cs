namespace SparseStorage.Core.Configuration;

/// <param name="Kind">What to do.</param>
/// <param name="Description">The change in words, for the verbose stream; it never holds a key.</param>
/// <param name="SizeBytes">The size to create or resize to (Create, Grow, Shrink).</param>
/// <param name="MountPoint">Where to mount (Mount).</param>
/// <param name="UsesKeyFile">Whether the cmdlet gets the resource's key file (Protect, and Mount of an encrypted volume).</param>
public sealed record VolumeStep(VolumeStepKind Kind, string Description, long? SizeBytes = null, string? MountPoint = null, bool UsesKeyFile = false) : IDesiredStateChange
{
    public override string ToString() => Description;
}

namespace SparseStorage.Core.Configuration;

/// <summary>A volume as the desired state compares it: the container format apart from encryption, and what can be read without a key.</summary>
public sealed record ObservedVolume
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    /// <summary>Raw or Qcow2; a raw LUKS container counts as Raw with <see cref="IsEncrypted"/>.</summary>
    public VolumeFormat Format { get; init; }
    public long SizeBytes { get; init; }
    public bool IsEncrypted { get; init; }
    /// <summary>False for a locked encrypted volume: its filesystem and label lie behind the key.</summary>
    public bool ContentIsReadable { get; init; }
    public FileSystemType FileSystem { get; init; }
    public string? Label { get; init; }
    /// <summary>Where the volume is mounted, or null.</summary>
    public string? MountPoint { get; init; }
    /// <summary>Mounted, attached to a loop device, or unlocked: something a removal or a protection has to take down first.</summary>
    public bool IsInUse { get; init; }
    public bool IsBroken { get; init; }

    public static ObservedVolume From(SparseVolume volume)
    {
        var encrypted = volume.Encryption != "None";
        return new ObservedVolume
        {
            Name = volume.Name,
            Path = volume.Path,
            Format = volume.Format == VolumeFormat.Luks ? VolumeFormat.Raw : volume.Format,
            SizeBytes = volume.SizeBytes,
            IsEncrypted = encrypted,
            ContentIsReadable = !encrypted || volume.IsUnlocked,
            FileSystem = volume.FileSystem,
            Label = volume.Label,
            MountPoint = volume.IsMounted ? volume.MountPoint : null,
            IsInUse = volume.IsMounted || volume.IsAttached || volume.IsUnlocked || volume.IsBroken,
            IsBroken = volume.IsBroken,
        };
    }
}

namespace SparseStorage.Core.Volumes;

/// <summary>One image file managed as a volume. Emitted as-is by the cmdlets.</summary>
public sealed class SparseVolume
{
    public required string Name { get; init; }
    /// <summary>The image file's absolute, resolved path.</summary>
    public required string Path { get; init; }
    /// <summary>The registered pool the volume lies in, if any.</summary>
    public string? Pool { get; init; }
    public VolumeFormat Format { get; init; }
    /// <summary>The virtual size the volume offers.</summary>
    public long SizeBytes { get; init; }
    /// <summary>The bytes the image really occupies on the pool's disk.</summary>
    public long AllocatedBytes { get; init; }
    public FileSystemType FileSystem { get; init; }
    /// <summary>The size the filesystem itself spans, read from its superblock (0 without a filesystem).</summary>
    public long FileSystemSizeBytes { get; init; }
    public string? Label { get; init; }
    /// <summary>"None", or the container and cipher read from the LUKS header, e.g. "LUKS1 aes-xts-plain64".</summary>
    public string Encryption { get; init; } = "None";
    /// <summary>Active LUKS key slots of an encrypted volume (0 when not encrypted).</summary>
    public int KeySlotCount { get; init; }
    /// <summary>An encrypted volume whose plaintext is open on this host (FUSE export or /dev/mapper device).</summary>
    public bool IsUnlocked { get; init; }
    public string? LoopDevice { get; init; }
    public string? MountPoint { get; init; }
    /// <summary>
    /// The host that has a volume of a Ceph pool mounted read-write (the holder of its one-writer lock): this host or
    /// another, as "HOSTNAME" or "HOSTNAME:RUNTIME-DIRECTORY". Null for a volume of a directory pool, and for a Ceph
    /// volume mounted nowhere or only read-only.
    /// </summary>
    public string? MountedOn { get; init; }
    public string? BackingFile { get; init; }
    public int SnapshotCount { get; init; }
    public bool IsAttached { get; init; }
    public bool IsMounted { get; init; }
    public bool IsReadOnly { get; init; }
    /// <summary>A FUSE export of the volume whose qemu-storage-daemon is gone: the volume needs Dismount-SparseVolume.</summary>
    public bool IsBroken { get; init; }
    /// <summary>Why the volume is broken: a dead FUSE daemon, or a file the module refuses to treat as a volume (a link, a device, an unreadable header).</summary>
    public string? BrokenReason { get; init; }
    /// <summary>A qcow2 image's external data file (the guest data lives there, not in the image).</summary>
    public string? DataFile { get; init; }
    /// <summary>Why the image's backing chain or data file is refused (outside its pool); such an image is never handed to a tool.</summary>
    internal string? ReferenceRefusal { get; init; }

    public override string ToString() => Path;
}

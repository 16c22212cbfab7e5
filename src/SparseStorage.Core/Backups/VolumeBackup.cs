namespace SparseStorage.Core.Backups;

// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum BackupKind : long
{
    /// <summary>Holds every allocated block of the volume.</summary>
    Full,
    /// <summary>Holds the blocks that changed since its parent and refers to the chain for the rest.</summary>
    Incremental,
}

public enum ChangeDetection : long
{
    /// <summary>Every allocated block of the image was read and hashed.</summary>
    ReadAll,
    /// <summary>Only the blocks whose place on disk differs from the reference clone kept by the parent set were read (pools on xfs or btrfs).</summary>
    BlockMap,
    /// <summary>Ceph's own change tracking: rbd export-diff read only the extents written since the parent's RBD snapshot.</summary>
    RbdDiff,
}

/// <summary>A backup set: one directory with a manifest and the data of the blocks it stores.</summary>
public sealed class VolumeBackup
{
    /// <summary>The backed-up volume's name.</summary>
    public required string Source { get; init; }
    /// <summary>The volume's image file when it was backed up.</summary>
    public required string SourcePath { get; init; }
    /// <summary>The set's name, unique per volume in a destination: its UTC time and kind, e.g. 20261121T051400123Z-full.</summary>
    public required string Name { get; init; }
    /// <summary>The set's directory. Restore-SparseVolume takes it (binds by property name as -Backup).</summary>
    public required string BackupPath { get; init; }
    public BackupKind Kind { get; init; }
    /// <summary>The set this one builds on (null for a full set).</summary>
    public string? Parent { get; init; }
    /// <summary>When the backup started (the set name's time).</summary>
    public DateTime CreatedUtc { get; init; }
    public VolumeFormat Format { get; init; }
    /// <summary>The image file's size when it was backed up (a restore brings this size back).</summary>
    public long SizeBytes { get; init; }
    /// <summary>Bytes of block data this set itself stores.</summary>
    public long StoredBytes { get; init; }
    /// <summary>Allocated bytes of the image the set describes (its own blocks plus those it refers to in the chain).</summary>
    public long DataBytes { get; init; }
    /// <summary>How the blocks to store were found: BlockMap read only what moved since the parent's reference clone, ReadAll read every allocated block.</summary>
    public ChangeDetection ChangeDetection { get; init; }
    /// <summary>Bytes of the image read to make the set.</summary>
    public long ReadBytes { get; init; }
    /// <summary>How writes were kept out while the set was read (Frozen when a mounted filesystem was frozen).</summary>
    public WriteConsistency Consistency { get; init; }
    /// <summary>SHA-256 of the set's manifest; a child records its parent's, so an edited parent breaks the chain visibly.</summary>
    public required string Checksum { get; init; }
    /// <summary>Whether the set carries an HMAC-SHA256 signature (manifest.hmac, from -IntegrityKeyFile); Restore-SparseVolume checks it when given the key.</summary>
    public bool Signed { get; init; }

    public override string ToString() => BackupPath;
}

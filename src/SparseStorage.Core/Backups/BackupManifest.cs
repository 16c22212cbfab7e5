using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SparseStorage.Core.Backups;

/// <summary>
/// One block of the image at the time of a set: its index (offset / BlockSize), SHA-256, and where its bytes are —
/// the set that stores them and the offset in that set's data file. A block that is all zeros stores nothing
/// (Set is null); a block absent from the manifest is a hole.
/// </summary>
public sealed record BackupBlock(
    [property: JsonPropertyName("i")] long Index,
    [property: JsonPropertyName("n")] int Length,
    [property: JsonPropertyName("h")] string Hash,
    [property: JsonPropertyName("s")] string? Set,
    [property: JsonPropertyName("o")] long Offset);

/// <summary>
/// manifest.json of a backup set. Block size 1 MiB and SHA-256: 1 MiB keeps the manifest near 140 bytes per MiB of
/// data (about 14 MB for 100 GiB) at the cost of storing a whole MiB for a small change; SHA-256 is in the base
/// library, runs on the CPU's SHA instructions at well over 1 GB/s, and a block that does not match its hash cannot
/// go unnoticed. manifest.sha256 beside it holds the manifest's own hash; anyone can recompute that, so it catches
/// damage, not tampering. Against tampering, manifest.hmac holds an HMAC under the operator's key (<see cref="BackupSignature"/>).
/// </summary>
public sealed record BackupManifest
{
    public const string FormatName = "sparsestorage-backup/1";
    public const string FileName = "manifest.json";
    public const string ChecksumFileName = "manifest.sha256";
    public const string DataFileName = "data.bin";
    public const int DefaultBlockSize = 1 << 20;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public string Format { get; init; } = FormatName;
    public required string Name { get; init; }
    public required string Volume { get; init; }
    public required string VolumePath { get; init; }
    /// <summary>The pool the volume was in; a restore to the recorded place goes only there. Absent in older sets.</summary>
    public string? Pool { get; init; }
    public VolumeFormat VolumeFormat { get; init; }
    public BackupKind Kind { get; init; }
    public string? Parent { get; init; }
    public string? ParentChecksum { get; init; }
    public DateTime CreatedUtc { get; init; }
    public WriteConsistency Consistency { get; init; }
    public int BlockSize { get; init; } = DefaultBlockSize;
    public long SizeBytes { get; init; }
    public long StoredBytes { get; init; }
    /// <summary>How changed blocks were found; absent in sets from before change tracking (read as ReadAll).</summary>
    public ChangeDetection ChangeDetection { get; init; }
    /// <summary>Bytes of the image read to make the set.</summary>
    public long ReadBytes { get; init; }
    /// <summary>The reference clone kept for the next incremental (pools on xfs or btrfs); null where there is none.</summary>
    public ChangeReferenceStamp? ChangeReference { get; init; }
    /// <summary>For a set of a volume of a Ceph pool: the RBD snapshot it was read at and its diff file; null for a set of an image file.</summary>
    public RbdBackupRecord? Rbd { get; init; }
    public required IReadOnlyList<BackupBlock> Blocks { get; init; }

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static string Checksum(ReadOnlySpan<byte> manifest) => Convert.ToHexString(SHA256.HashData(manifest)).ToLowerInvariant();

    /// <summary>
    /// Reads a set's manifest and checks it against manifest.sha256, which catches an accidentally damaged or truncated
    /// manifest; with a <paramref name="policy"/>, the same bytes must also carry the key's signature, which catches a
    /// deliberately edited one.
    /// </summary>
    public static (BackupManifest Manifest, string Checksum) Load(string setDirectory, BackupSignaturePolicy? policy = null)
    {
        var path = Path.Combine(setDirectory, FileName);
        var checksumPath = Path.Combine(setDirectory, ChecksumFileName);
        if (!File.Exists(path) || !File.Exists(checksumPath))
            throw new BackupDamagedException($"The backup set {setDirectory} has no {(File.Exists(path) ? ChecksumFileName : FileName)}; it is incomplete or damaged.", setDirectory);
        var bytes = ReadSetFile(setDirectory, path, "backup manifest", Array.MaxLength);
        var checksum = Checksum(bytes);
        if (policy is not null)
            BackupSignature.Require(setDirectory, bytes, policy);
        if (!string.Equals(System.Text.Encoding.ASCII.GetString(ReadSetFile(setDirectory, checksumPath, "backup checksum", 4096)).Trim(), checksum, StringComparison.OrdinalIgnoreCase))
            throw new BackupDamagedException($"The manifest of backup set {setDirectory} does not match its checksum: it was changed or damaged.", setDirectory);
        try
        {
            var manifest = JsonSerializer.Deserialize<BackupManifest>(bytes, Json) ?? throw new JsonException("empty manifest");
            return manifest.Format == FormatName ? (manifest, checksum)
                : throw new BackupDamagedException($"The backup set {setDirectory} has format '{manifest.Format}', not {FormatName}.", setDirectory);
        }
        catch (JsonException e)
        {
            throw new BackupDamagedException($"The manifest of backup set {setDirectory} cannot be read: {e.Message}", setDirectory);
        }
    }

    /// <summary>A file of the set, read only if it is a regular file (a FIFO would block the read forever); anything else makes the set damaged.</summary>
    private static byte[] ReadSetFile(string setDirectory, string path, string what, long limit)
    {
        try
        {
            return UntrustedFile.ReadAll(path, what, limit);
        }
        catch (InvalidStorageArgumentException e)
        {
            throw new BackupDamagedException($"The backup set {setDirectory} cannot be read: {e.Message}", setDirectory);
        }
    }

    /// <summary>Writes manifest.json and its checksum file, flushed, and its signature when there is a key; returns the checksum.</summary>
    public string Save(string setDirectory, BackupIntegrityKey? key = null)
    {
        var bytes = Serialize();
        WriteFlushed(Path.Combine(setDirectory, FileName), bytes);
        if (key is not null)
            BackupSignature.Write(setDirectory, bytes, key);
        var checksum = Checksum(bytes);
        WriteFlushed(Path.Combine(setDirectory, ChecksumFileName), System.Text.Encoding.ASCII.GetBytes(checksum + "\n"));
        return checksum;
    }

    private static void WriteFlushed(string path, byte[] bytes)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.Write(bytes);
        file.Flush(flushToDisk: true);
    }
}

/// <summary>
/// What a set of an RBD image holds instead of data.bin: diff.rbd, the output of <c>rbd export-diff</c> from
/// <see cref="FromSnapshot"/> (null for a full set) to <see cref="Snapshot"/>, with its length and SHA-256.
/// </summary>
public sealed record RbdBackupRecord(string Snapshot, string? FromSnapshot, long DiffBytes, string DiffSha256)
{
    public const string DiffFileName = "diff.rbd";
}

/// <summary>A backup set that cannot be trusted: a changed or missing block, an edited manifest, a broken chain.</summary>
public sealed class BackupDamagedException(string message, object? target = null)
    : SparseStorageException("BackupDamaged", StorageErrorKind.InvalidOperation, message, target);

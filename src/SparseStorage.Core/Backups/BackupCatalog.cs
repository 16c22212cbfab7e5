using System.Globalization;
using System.Text.RegularExpressions;

namespace SparseStorage.Core.Backups;

/// <summary>
/// The backup sets in a destination directory: <c>&lt;destination&gt;/&lt;volume name&gt;/&lt;set name&gt;/</c>, each with
/// manifest.json, manifest.sha256 and data.bin. Sets are named by their UTC time, so names sort by age.
/// </summary>
public static partial class BackupCatalog
{
    [GeneratedRegex(@"^\d{8}T\d{9}Z-(full|incr)$")]
    private static partial Regex SetName();

    public static string NewSetName(DateTime utcNow, BackupKind kind) =>
        utcNow.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture) + (kind == BackupKind.Full ? "-full" : "-incr");

    /// <summary>Whether a directory name is that of a backup set (hidden work in progress is not).</summary>
    public static bool IsSetName(string name) => SetName().IsMatch(name);

    public static string VolumeFolder(string destination, string volumeName) => Path.Combine(destination, volumeName);

    /// <summary>The complete sets of the volumes whose names match, oldest first; damaged sets go to <paramref name="onDamaged"/>.</summary>
    public static IEnumerable<VolumeBackup> List(string destination, Func<string, bool> volumeMatches, Action<BackupDamagedException> onDamaged)
    {
        if (!Directory.Exists(destination))
            throw new InvalidStorageArgumentException("BackupDestinationNotFound", $"The backup destination '{destination}' does not exist.", destination);
        foreach (var volumeFolder in Directory.EnumerateDirectories(destination).Where(d => volumeMatches(Path.GetFileName(d))).Order(StringComparer.Ordinal))
            foreach (var set in SetDirectories(volumeFolder))
            {
                VolumeBackup? backup = null;
                try
                {
                    backup = Describe(set);
                }
                catch (BackupDamagedException e)
                {
                    onDamaged(e);
                }
                if (backup is not null)
                    yield return backup;
            }
    }

    /// <summary>
    /// The newest set of this volume whose whole chain is sound (manifests, checksums and data files), or null; a
    /// newer damaged set is passed over, so damage never spreads into later sets. Sets of another volume that
    /// has the same name (in another pool) are refused rather than built on. With a key, only a set signed with it
    /// is built on: a new set copies its parent's block entries, and would otherwise sign what someone else wrote.
    /// </summary>
    public static string? NewestSound(string destination, SparseVolume volume, BackupIntegrityKey? key = null)
    {
        var folder = VolumeFolder(destination, volume.Name);
        if (!Directory.Exists(folder))
            return null;
        foreach (var set in SetDirectories(folder).Reverse())
        {
            try
            {
                RequireDataFiles(Chain(set, key is null ? null : new BackupSignaturePolicy(key, AllowUnsigned: false)));
                return set;
            }
            catch (BackupDamagedException)
            {
            }
            catch (BackupIntegrityException)
            {
            }
        }
        return null;
    }

    /// <summary>
    /// Refuses a volume folder that holds sets of another volume with the same name (from another pool): building
    /// on them, or pruning among them, would mix two volumes' backups. The newest readable set decides.
    /// </summary>
    public static void RequireSameVolume(string destination, SparseVolume volume)
    {
        var folder = VolumeFolder(destination, volume.Name);
        if (!Directory.Exists(folder))
            return;
        foreach (var set in SetDirectories(folder).Reverse())
        {
            BackupManifest manifest;
            try
            {
                manifest = BackupManifest.Load(set).Manifest;
            }
            catch (BackupDamagedException)
            {
                continue;
            }
            if (manifest.VolumePath != volume.Path)
                throw new ResourceExistsException("BackupFolderOfAnotherVolume",
                    $"{folder} holds backups of {manifest.VolumePath}, another volume named '{volume.Name}'; back up {volume.Path} to another destination.", folder);
            return;
        }
    }

    /// <summary>Every set in the chain has a data file that reaches the last byte its blocks need.</summary>
    public static void RequireDataFiles(IReadOnlyList<Link> chain)
    {
        if (chain[^1].Manifest.Rbd is not null)
        {
            RequireDiffFiles(chain);
            return;
        }
        var needed = chain[^1].Manifest.Blocks.Where(b => b.Set is not null)
            .GroupBy(b => b.Set!).ToDictionary(g => g.Key, g => g.Max(b => b.Offset + b.Length));
        foreach (var (set, end) in needed)
        {
            var link = chain.FirstOrDefault(l => l.Manifest.Name == set)
                       ?? throw new BackupDamagedException($"The manifest of {chain[^1].Directory} refers to set {set}, which is not in its chain.", chain[^1].Directory);
            var data = Path.Combine(link.Directory, BackupManifest.DataFileName);
            if (!File.Exists(data))
                throw new BackupDamagedException($"The data file {data} of backup set {set} is missing; nothing was restored.", link.Directory);
            if (new FileInfo(data).Length < end)
                throw new BackupDamagedException($"The data file {data} of backup set {set} is cut short ({new FileInfo(data).Length} bytes, {end} needed); nothing was restored.", link.Directory);
        }
    }

    /// <summary>Every set of an RBD chain has its diff file, of the recorded length; the chain's sets are all of an RBD image.</summary>
    public static void RequireDiffFiles(IReadOnlyList<Link> chain)
    {
        foreach (var link in chain)
        {
            var diff = Path.Combine(link.Directory, RbdBackupRecord.DiffFileName);
            if (link.Manifest.Rbd is not { } rbd)
                throw new BackupDamagedException($"The chain of {chain[^1].Directory} mixes sets of an RBD image with set {link.Directory}, which is not one.", chain[^1].Directory);
            if (!File.Exists(diff))
                throw new BackupDamagedException($"The diff file {diff} of backup set {link.Manifest.Name} is missing; nothing was restored.", link.Directory);
            if (new FileInfo(diff).Length != rbd.DiffBytes)
                throw new BackupDamagedException($"The diff file {diff} of backup set {link.Manifest.Name} has {new FileInfo(diff).Length} bytes, its manifest records {rbd.DiffBytes}; nothing was restored.", link.Directory);
        }
    }

    public sealed record Link(BackupManifest Manifest, string Checksum, string Directory);

    /// <summary>
    /// The chain from the full set to <paramref name="setDirectory"/>, each parent checked against the checksum its
    /// child recorded. A <paramref name="policy"/> checks the signature of <paramref name="setDirectory"/> itself: the
    /// parents' checksums are in its signed manifest, so they are vouched for through it.
    /// </summary>
    public static IReadOnlyList<Link> Chain(string setDirectory, BackupSignaturePolicy? policy = null)
    {
        var chain = new List<Link>();
        var directory = setDirectory;
        string? expectedChecksum = null;
        while (true)
        {
            var (manifest, checksum) = BackupManifest.Load(directory, chain.Count == 0 ? policy : null);
            if (expectedChecksum is not null && checksum != expectedChecksum)
                throw new BackupDamagedException($"The chain of {setDirectory} is broken: its parent {directory} is not the set it was made against (the manifest changed).", setDirectory);
            chain.Insert(0, new Link(manifest, checksum, directory));
            if (manifest.Parent is null)
                return chain;
            var parent = Path.Combine(Path.GetDirectoryName(directory)!, manifest.Parent);
            if (!Directory.Exists(parent))
                throw new BackupDamagedException($"The chain of {setDirectory} is broken: its parent set {parent} is missing.", setDirectory);
            expectedChecksum = manifest.ParentChecksum;
            directory = parent;
        }
    }

    /// <summary>The set directory, which must exist.</summary>
    public static string RequireSet(string setDirectory) =>
        Directory.Exists(setDirectory) ? setDirectory
            : throw new InvalidStorageArgumentException("BackupNotFound", $"No backup set at '{setDirectory}'.", setDirectory);

    public static VolumeBackup Describe(string setDirectory)
    {
        var (manifest, checksum) = BackupManifest.Load(setDirectory);
        return new VolumeBackup
        {
            Source = manifest.Volume,
            SourcePath = manifest.VolumePath,
            Name = manifest.Name,
            BackupPath = setDirectory,
            Kind = manifest.Kind,
            Parent = manifest.Parent,
            CreatedUtc = DateTime.SpecifyKind(manifest.CreatedUtc, DateTimeKind.Utc),
            Format = manifest.VolumeFormat,
            SizeBytes = manifest.SizeBytes,
            StoredBytes = manifest.StoredBytes,
            DataBytes = manifest.Blocks.Where(b => b.Set is not null || manifest.Rbd is not null).Sum(b => (long)b.Length),
            Consistency = manifest.Consistency,
            ChangeDetection = manifest.ChangeDetection,
            ReadBytes = manifest.ReadBytes,
            Checksum = checksum,
            Signed = BackupSignature.IsSigned(setDirectory),
        };
    }

    /// <summary>Set directories of one volume folder, oldest first; work in progress (hidden) and unrelated folders are skipped.</summary>
    public static IEnumerable<string> SetDirectories(string volumeFolder) =>
        Directory.EnumerateDirectories(volumeFolder)
            .Where(d => IsSetName(Path.GetFileName(d)))
            .Order(StringComparer.Ordinal);
}

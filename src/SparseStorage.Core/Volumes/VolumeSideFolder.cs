namespace SparseStorage.Core.Volumes;

/// <summary>
/// A volume's folder inside one of the pool's hidden module folders (<c>.snapshots</c>, <c>.backup-references</c>):
/// <c>&lt;pool&gt;/&lt;module folder&gt;/&lt;image file name&gt;/</c>. The pool lists only image files directly in it, so
/// nothing here is ever taken for a volume.
/// </summary>
public static class VolumeSideFolder
{
    public static string Of(string volumePath, string moduleFolderName) =>
        Path.Combine(Path.GetDirectoryName(volumePath)!, moduleFolderName, Path.GetFileName(volumePath));

    /// <summary>Deletes the volume's folder when nothing is left in it, and then the module folder when that is empty too.</summary>
    public static void DeleteIfEmpty(string volumeFolder)
    {
        foreach (var folder in new[] { volumeFolder, Path.GetDirectoryName(volumeFolder)! })
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
                Directory.Delete(folder);
    }
}

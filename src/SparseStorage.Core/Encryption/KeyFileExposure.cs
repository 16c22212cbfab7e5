namespace SparseStorage.Core.Encryption;

/// <summary>
/// The warning for a key file that users other than its owner can read or change (a LUKS key file, a backup
/// integrity key): one wording, so the operator reads the same advice wherever a key is taken from a file.
/// </summary>
internal static class KeyFileExposure
{
    private const int GroupRead = 0x20, GroupWrite = 0x10, OtherRead = 0x4, OtherWrite = 0x2;

    /// <summary>The warning, or null when only the owner may read and change the file; <paramref name="consequence"/> says what a reader could do.</summary>
    public static string? Warning(string path, int mode, string consequence)
    {
        var group = (mode & (GroupRead | GroupWrite)) != 0;
        var others = (mode & (OtherRead | OtherWrite)) != 0;
        if (!group && !others)
            return null;
        var who = group && others ? "its group and every user" : others ? "every user" : "its group";
        var read = (mode & (GroupRead | OtherRead)) != 0;
        var changed = (mode & (GroupWrite | OtherWrite)) != 0;
        var access = read && changed ? "read and changed" : read ? "read" : "changed";
        return $"Key file {path} can be {access} by {who} (mode {Convert.ToString(mode & 0x1FF, 8).PadLeft(4, '0')}): {consequence}. " +
               $"Restrict it to its owner (mode 0600): chmod 600 {path}";
    }
}

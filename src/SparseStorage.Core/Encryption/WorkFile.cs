using System.Security.Cryptography;
using System.Text;
using SparseStorage.Core.Host;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// The work file an image is rewritten into: a <see cref="SiblingFile"/> name whose last part comes from the target's
/// path instead of chance, so a plan made by this process names the very file its Apply writes. Two operations on
/// one volume never share it: each runs under the volume's lock and removes it before letting go.
/// </summary>
internal static class WorkFile
{
    public static string For(string target)
    {
        var tag = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(target)))[..8].ToLowerInvariant();
        return Path.Combine(Path.GetDirectoryName(target)!, $"{SiblingFile.PartialMarker}{ProcessIdentity.Current}-{tag}-{Path.GetFileName(target)}");
    }
}

namespace SparseStorage.Bench;

/// <summary>
/// The contenders of one copy comparison, all copying into the pool directory that holds the sources: ours (the
/// cmdlet path, and SparseCopier with zero detection), the three peer tools, and ours again on the 2 TiB image.
/// </summary>
internal sealed record CopyLineup(CopyContender Ours, CopyContender Zeroes, CopyContender Cp, CopyContender Rsync, CopyContender Qemu, CopyContender OursLarge)
{
    public const string OursName = "SparseStorage VolumeCopier (Copy-SparseVolume -Destination)";

    public IReadOnlyList<CopyContender> All => [Ours, Zeroes, Cp, Rsync, Qemu, OursLarge];

    /// <summary>The peers with the speed-up ours must reach over each (time_peer / time_ours).</summary>
    public IReadOnlyList<(CopyContender Peer, double Target)> Targets => [(Cp, 10), (Rsync, 40), (Qemu, 1)];

    public static CopyLineup For(BenchEnvironment environment, string pool, string small, string large, int runs)
    {
        string To(string name) => Path.Combine(pool, $"copy-{name}.img");
        return new CopyLineup(
            CopyContender.VolumeCopier(environment.Context, OursName, "VolumeCopier", small, To("volumecopier"), runs),
            CopyContender.SparseCopierZeroes(small, To("detectzeroes"), runs),
            CopyContender.Tool("cp --sparse=always", small, To("cp"), runs, "cp", "--sparse=always"),
            CopyContender.Tool("rsync -S (1 run: slow)", small, To("rsync"), 1, "rsync", "-S"),
            CopyContender.Tool("qemu-img convert -m 8 -W -O raw", small, To("qemu"), runs, "qemu-img", "convert", "-m", "8", "-W", "-O", "raw"),
            CopyContender.VolumeCopier(environment.Context, "VolumeCopier, same 1 GiB in the 2 TiB image", "VolumeCopier 2 TiB", large, To("volumecopier-2t"), runs) with { CompareByExtents = true });
    }
}

using System.Globalization;

namespace SparseStorage.Core.Pools;

/// <summary>
/// What promising more virtual space in a pool means, checked before a volume is created or grown: a warning when
/// the pool could not hold what its volumes may still write, and a refusal above the pool's MaxOvercommit.
/// </summary>
public static class ProvisioningGuard
{
    public static void RequireValidLimit(double? maxOvercommit)
    {
        if (maxOvercommit is { } limit && !(double.IsFinite(limit) && limit > 0))
            throw new InvalidStorageArgumentException("InvalidMaxOvercommit",
                $"-MaxOvercommit must be a ratio greater than zero (1 = never promise more than the disk holds, 3 = up to three times), not {Ratio(limit)}.", limit);
    }

    /// <summary>
    /// The warnings for promising <paramref name="addedBytes"/> more in <paramref name="pool"/>, for the operator to
    /// read before it happens; throws <see cref="OvercommitLimitExceededException"/> above the pool's limit.
    /// </summary>
    public static IReadOnlyList<string> Check(StoragePool pool, long addedBytes, string change)
    {
        if (addedBytes <= 0)
            return [];
        var provisioned = ByteSize.Add(pool.ProvisionedBytes, addedBytes, $"Pool '{pool.Name}''s provisioned size");
        if (pool.MaxOvercommit is { } limit && pool.CapacityBytes > 0 && (double)provisioned / pool.CapacityBytes > limit)
            throw new OvercommitLimitExceededException(
                $"{change} would bring pool '{pool.Name}' to an overcommit ratio of {Ratio((double)provisioned / pool.CapacityBytes)} " +
                $"({ByteSize.Format(provisioned)} promised on {ByteSize.Format(pool.CapacityBytes)}), above its limit of {Ratio(limit)} " +
                "(Register-StoragePool -MaxOvercommit). Nothing was changed.", pool.Name);
        var unwritten = provisioned - pool.AllocatedBytes;
        if (unwritten <= pool.FreeBytes)
            return [];
        var consequence = pool.Kind == PoolKind.CephRbd
            ? "Writes beyond that hang once Ceph marks the pool full, until space is added; add OSDs or move volumes before they fill."
            : "Writes beyond that fail inside the volumes (the loop device reports write errors and the data is lost); add space or move volumes before they fill.";
        return [$"{change} promises more than pool '{pool.Name}' can hold: its volumes could still write {ByteSize.Format(unwritten)}, " +
                $"but only {ByteSize.Format(pool.FreeBytes)} is free in {pool.Path}. {consequence}"];
    }

    private static string Ratio(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

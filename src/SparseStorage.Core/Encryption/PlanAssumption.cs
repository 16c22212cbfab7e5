namespace SparseStorage.Core.Encryption;

/// <summary>Apply's re-check of what a plan assumed about a volume: a volume changed in between is refused, untouched.</summary>
internal static class PlanAssumption
{
    public static void Require(bool holds, SparseVolume volume, string change)
    {
        if (!holds)
            throw new StorageOperationException("ChangedSincePlanned",
                $"Volume '{volume.Name}' changed after the plan was made ({change}); nothing was changed. Run the command again to plan it anew.", volume);
    }

    /// <summary>Refuses an image that was written, had its key slots changed or was replaced since <paramref name="planned"/>.</summary>
    public static void RequireSameImage(SparseVolume volume, ImageStamp planned) =>
        Require(ImageStamp.Of(volume.Path) == planned, volume, "its image was written or replaced");
}

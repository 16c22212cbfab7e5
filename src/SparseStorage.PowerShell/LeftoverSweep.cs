using System.Management.Automation;
using SparseStorage.Core;
using SparseStorage.Core.Leftovers;

namespace SparseStorage.PowerShell;

/// <summary>
/// Runs the sweep of leftovers of killed operations before a listing: what it removed goes to the verbose stream, what
/// it found but had to leave to a warning. A sweep that fails never stops the listing.
/// </summary>
internal static class LeftoverSweep
{
    public static void Run(Cmdlet cmdlet, StorageContext context)
    {
        try
        {
            var report = new LeftoverSweeper(context).Sweep();
            foreach (var removed in report.Removed)
                cmdlet.WriteVerbose($"Leftover of a killed operation: {removed}.");
            foreach (var kept in report.Kept)
                cmdlet.WriteWarning($"Leftover of a killed operation: {kept}");
        }
        catch (Exception e) when (e is SparseStorageException or IOException or UnauthorizedAccessException)
        {
            cmdlet.WriteWarning($"Leftovers of killed operations were not swept: {e.Message}");
        }
    }
}

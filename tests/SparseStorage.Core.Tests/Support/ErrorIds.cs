namespace SparseStorage.Core.Tests.Support;

public static class ErrorIds
{
    /// <summary>The stable error id the action fails with, or null when it succeeds.</summary>
    public static string? Of(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (SparseStorageException e)
        {
            return e.ErrorId;
        }
    }
}

using System.Management.Automation;

namespace SparseStorage.PowerShell;

/// <summary>Lets a ByteSize parameter take 10GB (a number), '10GiB' or '1.5T' (text); a bad value names itself in the error.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ByteSizeTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        try
        {
            return ByteSize.From(value);
        }
        catch (InvalidStorageArgumentException e)
        {
            throw new ArgumentTransformationMetadataException(e.Message, e);
        }
    }
}

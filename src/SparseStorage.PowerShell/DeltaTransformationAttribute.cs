using System.Management.Automation;

namespace SparseStorage.PowerShell;

/// <summary>Lets -Delta take +10GB, -5GB (numbers) or '+10GiB', '-1.5T' (text).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DeltaTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        try
        {
            return ByteSize.ParseDelta(value);
        }
        catch (InvalidStorageArgumentException e)
        {
            throw new ArgumentTransformationMetadataException(e.Message, e);
        }
    }
}

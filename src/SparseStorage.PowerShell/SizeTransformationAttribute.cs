using System.Management.Automation;

namespace SparseStorage.PowerShell;

/// <summary>Turns what PowerShell binds (a number, text, a PSObject) into a Core size value; a bad value names itself in the error.</summary>
public abstract class SizeTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        try
        {
            return Convert(value);
        }
        catch (InvalidStorageArgumentException e)
        {
            throw new ArgumentTransformationMetadataException(e.Message, e);
        }
    }

    protected abstract object Convert(object value);
}

/// <summary>Lets a ByteSize parameter take 10GB (a number), '10GiB' or '1.5T' (text).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ByteSizeTransformationAttribute : SizeTransformationAttribute
{
    protected override object Convert(object value) => ByteSize.From(value);
}

/// <summary>Lets -Delta take +10GB, -5GB (numbers) or '+10GiB', '-1.5T' (text).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DeltaTransformationAttribute : SizeTransformationAttribute
{
    protected override object Convert(object value) => ByteSize.ParseDelta(value);
}

namespace NativeBuffers.Tests.Collections;

/// <summary>
/// Runs the same call on a reference implementation and on ours and compares what a caller can see:
/// the value returned, or the type of exception thrown.
/// </summary>
internal static class Differential
{
    public readonly record struct Outcome(string? Value, Type? Exception)
    {
        public override string ToString() => Exception is null ? $"value {Value}" : $"throws {Exception.Name}";
    }

    public static Outcome Capture(Action action) => Capture(() =>
    {
        action();
        return "ok";
    });

    public static Outcome Capture<TResult>(Func<TResult> call)
    {
        try
        {
            return new Outcome(Format(call()), null);
        }
        catch (Exception e)
        {
            return new Outcome(null, e.GetType());
        }
    }

    /// <summary>Asserts both sides saw the same thing; <paramref name="step"/> names the operation in the failure.</summary>
    public static void Same(Outcome expected, Outcome actual, object step)
    {
        if (expected != actual)
            throw new Xunit.Sdk.XunitException($"After {step}: reference {expected}, ours {actual}.");
    }

    private static string? Format(object? value) => value switch
    {
        null => null,
        byte[] bytes => Convert.ToHexString(bytes),
        int[] ints => string.Join(",", ints),
        System.Collections.IEnumerable e and not string => string.Join(",", e.Cast<object>()),
        _ => value.ToString(),
    };
}

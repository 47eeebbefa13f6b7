import reflex as rx

def index() -> rx.Component:
    return rx.heading("hello")

app = rx.App()
app.add_page(index, route="/")
